"""Staff accepting overlapping certificates at the same moment settle each withheld amount once,
and a certificate is reviewed once (real PostgreSQL, one connection per thread)."""

from __future__ import annotations

import tempfile
import threading
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from clientarea.billing import services as billing
from clientarea.billing.models import ItemKind
from clientarea.lib.dates import BOGOTA, local_today
from clientarea.test import make_customer, make_provider, make_staff
from clientarea.withholdings import services
from clientarea.withholdings.models import CertificateStatus, OrderWithholding
from clientarea.withholdings.tests.helpers import PDF, make_agent, make_rules


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(MEDIA_ROOT=tempfile.mkdtemp(prefix="withholdings-pg-"))
def test_concurrent_reviews_settle_each_amount_once(monkeypatch):
    from clientarea.einvoice import services as einvoice_services
    from clientarea.einvoice.tests.test_issue_on_payment import make_resolution

    monkeypatch.setattr(einvoice_services, "_schedule_render", lambda invoice_id: None)
    make_provider()
    make_resolution()
    make_rules(local_today().year)
    staff = make_staff()
    company = make_customer(person_type="juridica", document_type="31")
    make_agent(company)
    for i in range(3):
        order = billing.create_order(
            customer=company,
            notify=False,
            lines=[billing.LineSpec(kind=ItemKind.OTHER, description=f"Hosting {i}", unit_price=Decimal("1000000"))],
        )  # fmt: skip
        billing.mark_order_paid(order_id=order.pk, paid_at=timezone.now(), via="manual")
    today = timezone.localtime(timezone.now(), BOGOTA).date()

    def upload(**period):
        return services.upload_certificate(
            customer=company, user=company.user, kind="06", year=today.year,
            upload=SimpleUploadedFile("c.pdf", PDF), **period,
        )  # fmt: skip

    annual = upload(period_type="year", period_number=1)
    monthly = upload(period_type="month", period_number=today.month)
    jobs = [annual.pk, monthly.pk, annual.pk, monthly.pk]  # each certificate twice
    barrier = threading.Barrier(len(jobs))
    settled: list[int] = []
    refused: list[str] = []
    errors: list[Exception] = []

    def accept(certificate_id: int) -> None:
        try:
            barrier.wait()
            settled.append(
                services.accept_certificate(certificate_id=certificate_id, actor=staff)[1]
            )
        except services.WithholdingError as exc:
            refused.append(exc.message)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(pk,)) for pk in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(settled) == 2 and len(refused) == 2  # each certificate accepted exactly once
    assert sum(settled) == 3  # the three ReteFuente amounts, each settled by one certificate
    rows = OrderWithholding.objects.filter(kind="06")
    assert rows.count() == 3 and not rows.filter(settled_by=None).exists()
    assert {c.status for c in company.withholding_certificates.all()} == {
        CertificateStatus.ACCEPTED
    }
