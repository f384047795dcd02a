"""What the simulator keeps per process (``selectors.known``) is never stale: any write to the
settings, software, ranges, its certificate or the fault switches, by any path, applies to the
very next request."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clientarea.einvoice.sandbox import faults, selectors, services
from clientarea.einvoice.sandbox.models import (
    ConfigStamp,
    Fault,
    FaultKind,
    NumberingRange,
    SigningIdentity,
    SimulatorSettings,
    Software,
)

from . import documents
from .documents import NS

pytestmark = [pytest.mark.django_db, pytest.mark.urls("clientarea.einvoice.sandbox.tests.urls")]
KEPT = (SimulatorSettings, Software, NumberingRange, SigningIdentity, Fault)


def _send(call, xml: bytes) -> dict:
    return call("SendBillSync", documents.package(xml)).dian()


def _rules(result: dict) -> list[str]:
    return [m.split(",", 1)[0].removeprefix("Regla: ") for m in result["ErrorMessage"]]


def _warm(call, signed_invoice) -> None:
    """Two accepted invoices: the first creates the simulator's certificate (a write to what is
    kept), the second reads everything again and keeps it."""
    for _ in range(2):
        assert _send(call, signed_invoice()[0])["StatusCode"] == "00"


def _stamp() -> str:
    return ConfigStamp.objects.get(pk=1).stamp


def _reads_of_kept_tables(queries: CaptureQueriesContext) -> list[str]:
    tables = [model._meta.db_table for model in KEPT]
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("SELECT") and any(t in q["sql"] for t in tables)
    ]


def test_a_request_under_an_unchanged_stamp_reads_only_the_stamp(call, signed_invoice):
    _warm(call, signed_invoice)
    with CaptureQueriesContext(connection) as queries:
        assert _send(call, signed_invoice()[0])["StatusCode"] == "00"
    assert _reads_of_kept_tables(queries) == []
    assert sum(ConfigStamp._meta.db_table in q["sql"] for q in queries) == 1


def test_a_range_changed_by_a_plain_update_applies_to_the_next_request(call, signed_invoice):
    _warm(call, signed_invoice)
    NumberingRange.objects.update(to_number=990_000_001)  # no service, no admin: a bare UPDATE
    assert _rules(_send(call, signed_invoice()[0])) == ["FAD05e"]


def test_a_resolution_added_applies_to_the_next_request(call, signed_invoice):
    _warm(call, signed_invoice)
    root = documents.invoice()
    root.find(".//sts:InvoiceAuthorization", NS).text = "18760000999"
    assert _rules(_send(call, documents.sign(documents.finish(root)))) == ["FAB05b"]
    NumberingRange.objects.create(
        software=Software.objects.get(), resolution_number="18760000999", prefix="SETP",
        resolution_date=dt.date(2026, 1, 1), from_number=990_000_000, to_number=995_000_000,
        valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2030, 1, 1),
    )  # fmt: skip
    root = documents.invoice()
    root.find(".//sts:InvoiceAuthorization", NS).text = "18760000999"
    assert _send(call, documents.sign(documents.finish(root)))["StatusCode"] == "00"


def test_software_changed_applies_to_the_next_request(call, signed_invoice):
    _warm(call, signed_invoice)
    Software.objects.update(issuer_nits="800123456")
    assert _rules(_send(call, signed_invoice()[0])) == ["FAB24b"]
    Software.objects.update(issuer_nits="")
    assert _send(call, signed_invoice()[0])["StatusCode"] == "00"


def test_settings_changed_apply_to_the_next_request(call, signed_invoice):
    _warm(call, signed_invoice)
    SimulatorSettings.objects.filter(pk=1).update(require_certificate_nit=True)
    result = _send(call, signed_invoice()[0])
    assert (result["StatusCode"], result["StatusDescription"]) == (
        "89", "NIT de la empresa no informado en el certificado.",
    )  # fmt: skip


def test_a_fault_switch_written_directly_applies_to_the_next_request(call, signed_invoice):
    _warm(call, signed_invoice)
    Fault.objects.create(kind=FaultKind.HTTP_500)  # as the back office's add form writes it
    assert call("SendBillSync", documents.package(signed_invoice()[0])).status == 500
    assert _send(call, signed_invoice()[0])["StatusCode"] == "00"  # used up


def test_a_fault_switched_off_applies_to_the_next_request(call, signed_invoice):
    _warm(call, signed_invoice)
    faults.arm_fault(kind=FaultKind.REJECT_NEXT, rule_code="FAJ44b", rule_text="x", times=0)
    assert _rules(_send(call, signed_invoice()[0])) == ["FAJ44b"]
    assert _rules(_send(call, signed_invoice()[0])) == ["FAJ44b"]
    Fault.objects.update(active=False)  # the back office's "switch off" action
    assert _send(call, signed_invoice()[0])["StatusCode"] == "00"


def test_every_kind_of_write_to_what_is_kept_replaces_the_stamp():
    sw = Software.objects.get()
    writes = [
        lambda: SimulatorSettings.objects.filter(pk=1).update(clock_skew_seconds=301),
        lambda: Software.objects.filter(pk=sw.pk).update(name="x"),
        lambda: NumberingRange.objects.update(prefix="SETP"),
        lambda: NumberingRange.objects.all().delete(),
        lambda: SigningIdentity.objects.create(name="dian", key_pem=b"k", cert_pem=b"c"),
        lambda: SigningIdentity.objects.all().delete(),
        lambda: Fault.objects.create(kind=FaultKind.SLOW),
        lambda: Fault.objects.update(active=False),
        lambda: Software.objects.create(software_id="x", pin="1", provider_nit="1"),
        lambda: Software.objects.filter(software_id="x").delete(),
    ]
    seen = {_stamp()}
    for write in writes:
        write()
        stamp = _stamp()
        assert stamp not in seen, write
        seen.add(stamp)


def test_the_triggers_behind_the_stamp_are_all_there():
    """A later migration that makes SQLite rebuild one of these tables drops its triggers: it must
    create them again."""
    assert selectors.stamp_triggers_present()


def test_without_its_triggers_nothing_is_kept(call, signed_invoice):
    with connection.cursor() as cursor:  # rolled back with the test
        if connection.vendor == "sqlite":
            cursor.execute('DROP TRIGGER "dian_sandbox_stamp_software_update"')
        else:
            cursor.execute('DROP TRIGGER "dian_sandbox_stamp_software" ON "dian_sandbox_software"')
    _warm(call, signed_invoice)
    with CaptureQueriesContext(connection) as queries:
        assert _send(call, signed_invoice()[0])["StatusCode"] == "00"
    assert any(Software._meta.db_table in sql for sql in _reads_of_kept_tables(queries))
    Software.objects.update(issuer_nits="800123456")  # no trigger left to replace the stamp
    assert _rules(_send(call, signed_invoice()[0])) == ["FAB24b"]


def test_without_the_stamp_row_everything_is_read(call, signed_invoice):
    """A flushed test database has no stamp row: nothing is kept, nothing is stale."""
    _warm(call, signed_invoice)
    ConfigStamp.objects.all().delete()
    Software.objects.update(issuer_nits="800123456")
    assert _rules(_send(call, signed_invoice()[0])) == ["FAB24b"]
    with CaptureQueriesContext(connection) as queries:
        _send(call, signed_invoice()[0])
    assert any(Software._meta.db_table in sql for sql in _reads_of_kept_tables(queries))


def test_seeding_again_brings_back_the_stamp(call, signed_invoice):
    ConfigStamp.objects.all().delete()
    services.seed()
    _warm(call, signed_invoice)
    with CaptureQueriesContext(connection) as queries:
        assert _send(call, signed_invoice()[0])["StatusCode"] == "00"
    assert _reads_of_kept_tables(queries) == []
