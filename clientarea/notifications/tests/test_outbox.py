import pytest
from django.db import transaction
from django.utils import timezone

from clientarea.notifications import services
from clientarea.notifications.models import EmailStatus, OutgoingEmail
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    make_provider()
    return make_customer(preferred_language="en")


def queue(customer):
    return services.queue_email(
        to=customer.user.email,
        template="login_link",
        customer=customer,
        context={"customer": customer, "link": "https://x/y", "hours": 1},
    )


def test_it_renders_in_the_customers_language_and_delivers_after_commit(
    customer, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        email = queue(customer)
    assert email.language == "en" and "new access code" in email.subject.lower()
    assert email.body_html.startswith("<!doctype html>") and email.body_text
    assert mailoutbox == []  # nothing leaves before commit
    for callback in callbacks:
        callback()
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.attempts == 1 and len(mailoutbox) == 1


def test_a_rolled_back_transaction_sends_nothing_and_logs_nothing(
    customer, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                queue(customer)
                raise RuntimeError("the payment failed")
        except RuntimeError:
            pass
    assert not OutgoingEmail.objects.exists() and mailoutbox == []


def test_failures_are_retried_then_reported(customer, monkeypatch, settings):
    settings.EMAIL_MAX_ATTEMPTS = 2
    monkeypatch.setattr(services, "_schedule", lambda *a, **k: None)
    email = queue(customer)
    monkeypatch.setattr(
        "django.core.mail.EmailMultiAlternatives.send",
        lambda self, fail_silently=False: (_ for _ in ()).throw(OSError("smtp down")),
    )
    assert services.deliver_email(email_id=email.pk) is False
    email.refresh_from_db()
    assert (
        email.status == EmailStatus.QUEUED
        and email.attempts == 1
        and "smtp down" in email.last_error
    )
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    services.deliver_email(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and email.attempts == 2


def test_an_email_is_never_sent_twice(customer, monkeypatch, mailoutbox):
    monkeypatch.setattr(services, "_schedule", lambda *a, **k: None)
    email = queue(customer)
    assert services.deliver_email(email_id=email.pk) is True
    assert services.deliver_email(email_id=email.pk) is False
    assert len(mailoutbox) == 1


def test_the_sweep_delivers_emails_whose_enqueue_was_lost(customer, monkeypatch, mailoutbox):
    monkeypatch.setattr(
        services, "_schedule", lambda *a, **k: None
    )  # as if the process died after commit
    queue(customer)
    assert services.deliver_due_emails() == 1
    assert len(mailoutbox) == 1


def test_resend_copies_attachments(customer, monkeypatch, mailoutbox):
    monkeypatch.setattr(services, "_schedule", lambda *a, **k: None)
    email = services.queue_email(
        to=customer.user.email,
        template="login_link",
        customer=customer,
        context={"customer": customer, "link": "x", "hours": 1},
        attachments=[services.Attachment("f.pdf", b"%PDF", "application/pdf")],
    )
    copy = services.resend_email(email=email)
    assert copy.pk != email.pk and copy.attachments.get().filename == "f.pdf"


def test_every_email_shows_its_sender_without_notifications_importing_accounts(customer):
    """accounts adds the provider to every email's context (AccountsConfig.ready)."""
    email = queue(customer)
    assert "NIT 900123456-8 · facturacion@conexcol.example" in email.body_html
    assert "accounts" not in services.__dict__ and "get_provider" not in services.__dict__
