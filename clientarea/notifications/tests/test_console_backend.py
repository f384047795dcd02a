import io

from django.core.mail import EmailMultiAlternatives

from clientarea.notifications.backends import ConsoleSummaryBackend


def test_it_prints_the_text_and_lists_attachments_without_their_bytes():
    stream = io.StringIO()
    message = EmailMultiAlternatives("Factura SETP1", "Hola Ana", "a@x.co", ["ana@example.com"])
    message.attach("SETP1.pdf", b"%PDF" + b"x" * 5000, "application/pdf")
    assert ConsoleSummaryBackend(stream=stream).send_messages([message]) == 1
    out = stream.getvalue()
    assert (
        "Subject: Factura SETP1" in out
        and "Hola Ana" in out
        and "[attachment] SETP1.pdf (5004 bytes)" in out
    )
    assert "JVBER" not in out  # no base64 dump
