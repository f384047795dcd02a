"""Emails recorded with ids (``queue_email(refs=…)``) and rendered when they are delivered."""

import pytest
from django.utils import timezone

from clientarea.accounts.models import Customer
from clientarea.notifications import deferred, delivery, services
from clientarea.notifications.models import EmailStatus, OutgoingEmail
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


def login_link_context(refs):
    customer = Customer.objects.filter(pk=refs["customer"]).select_related("user").first()
    if customer is None:
        raise services.ContextGone(f"customer {refs['customer']} no longer exists")
    return {"customer": customer, "link": refs["link"], "hours": 1}


@pytest.fixture
def customer(monkeypatch):
    # A builder for a template of the repository, for these tests only.
    monkeypatch.setitem(deferred._builders, "login_link", login_link_context)
    make_provider()
    return make_customer(preferred_language="en")


def queue_refs(customer):
    return {"customer": customer.pk, "link": "https://example.com/deferred"}


def queue(customer, **extra):
    return services.queue_email(
        to=customer.user.email,
        template="login_link",
        customer=customer,
        refs=queue_refs(customer),
        **extra,
    )


def test_it_is_recorded_without_text_and_rendered_when_delivered(
    customer, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        email = queue(customer)
    email.refresh_from_db()
    assert (email.subject, email.body_text, email.body_html) == ("", "", "")
    assert email.render_refs == queue_refs(customer)
    assert email.language == "en" and email.status == EmailStatus.QUEUED
    for callback in callbacks:
        callback()
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.render_refs is None
    # The log keeps what was sent, rendered in the customer's language.
    expected = services.render_email(
        template="login_link", context=login_link_context(queue_refs(customer)), language="en"
    )
    assert (email.subject, email.body_text, email.body_html) == expected
    [sent] = mailoutbox
    assert sent.subject == email.subject and sent.body == email.body_text
    assert "https://example.com/deferred" in sent.body


def test_a_template_without_builder_or_a_context_is_refused(customer):
    with pytest.raises(ValueError, match="no context builder"):
        services.queue_email(
            to="a@example.com", template="order_created", refs={"order": 1}, customer=customer
        )
    with pytest.raises(ValueError, match="takes ids"):
        queue(customer, context={"customer": customer})
    with pytest.raises(ValueError, match="takes ids"):
        queue(customer, secrets={"code": "123456"})
    assert not OutgoingEmail.objects.exists()


def test_what_it_describes_gone_fails_it_with_the_reason(customer, monkeypatch, mailoutbox):
    monkeypatch.setattr(services, "_schedule", lambda *a, **k: None)
    email = queue(customer)
    monkeypatch.setitem(
        deferred._builders,
        "login_link",
        lambda refs: (_ for _ in ()).throw(services.ContextGone("the link was withdrawn")),
    )
    assert delivery.deliver_email(email_id=email.pk) is False
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and "the link was withdrawn" in email.last_error
    assert email.body_text == "" and mailoutbox == []
    assert delivery.deliver_due_emails() == 0  # failed for good: not tried again


def test_a_rendering_error_is_retried_then_reported(customer, monkeypatch, settings, mailoutbox):
    settings.EMAIL_MAX_ATTEMPTS = 2
    monkeypatch.setattr(services, "_schedule", lambda *a, **k: None)
    email = queue(customer)
    monkeypatch.setitem(
        deferred._builders, "login_link", lambda refs: (_ for _ in ()).throw(KeyError("link"))
    )
    assert delivery.deliver_email(email_id=email.pk) is False
    email.refresh_from_db()
    assert email.status == EmailStatus.QUEUED and email.attempts == 1
    assert "KeyError" in email.last_error and email.render_refs is not None
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver_email(email_id=email.pk) is False
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and email.attempts == 2 and mailoutbox == []


def test_a_worker_that_dies_before_rendering_leaves_it_to_the_sweep(
    customer, monkeypatch, settings, mailoutbox
):
    monkeypatch.setattr(services, "_schedule", lambda *a, **k: None)  # the job is lost
    email = queue(customer)

    class Killed(BaseException):
        pass

    def killed(refs):
        raise Killed

    with monkeypatch.context() as m:
        m.setitem(deferred._builders, "login_link", killed)
        with pytest.raises(Killed):
            delivery.deliver_email(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == EmailStatus.SENDING and email.render_refs is not None
    assert delivery.deliver_due_emails() == 0  # its lease is live: nobody else takes it
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())  # expired
    assert delivery.deliver_due_emails() == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.render_refs is None and email.body_text
    assert [m.subject for m in mailoutbox] == [email.subject]


def test_sending_again_one_not_rendered_yet_renders_the_copy(
    customer, monkeypatch, django_capture_on_commit_callbacks, mailoutbox
):
    monkeypatch.setattr(services, "_schedule", lambda *a, **k: None)
    email = queue(customer)
    monkeypatch.undo()
    monkeypatch.setitem(deferred._builders, "login_link", login_link_context)
    with django_capture_on_commit_callbacks(execute=True):
        copy = services.resend_email(email=email)
    copy.refresh_from_db()
    assert copy.status == EmailStatus.SENT and copy.render_refs is None
    assert "https://example.com/deferred" in copy.body_text and len(mailoutbox) == 1
