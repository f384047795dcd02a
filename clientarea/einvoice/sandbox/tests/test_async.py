"""Habilitación (SendTestSetAsync + GetStatusZip), SendBillAsync, GetStatus, GetNumberingRange,
GetXmlByDocumentKey (dian-webservice.md §1.5, §2.3, §2.9, §3)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest

from clientarea.einvoice.sandbox.models import (
    NumberingRange,
    SimulatorSettings,
    Software,
    TestSet,
    TestSetStatus,
)

from . import documents, wss
from .conftest import PRODUCTION_URL

pytestmark = [pytest.mark.django_db, pytest.mark.urls("clientarea.einvoice.sandbox.tests.urls")]
TEST_SET = "7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35"  # seeded by the data migration


@pytest.fixture
def send_set(call):
    def run(*xmls: bytes, test_set: str = TEST_SET, url=None) -> str:
        files = {f"fv{i:08d}.xml": xml for i, xml in enumerate(xmls)}
        params = {
            "fileName": "z.zip",
            "contentFile": documents.zipped(files),
            "testSetId": test_set,
        }
        answer = call("SendTestSetAsync", params, **({"url": url} if url else {}))
        assert answer.status == 200
        return answer

    return run


@pytest.fixture
def status_zip(call):
    return lambda key: call("GetStatusZip", {"trackId": key})


def _zip_key(answer) -> str:
    return answer.text("//u:ZipKey")


def test_test_set_is_accepted_once_every_required_document_is(send_set, status_zip, signed_invoice):
    first, root = signed_invoice()
    second, _ = signed_invoice()
    credit = documents.sign(documents.note(root, "CreditNote", number="NC10"))
    debit = documents.sign(documents.note(root, "DebitNote", number="ND10"))
    keys = []
    for xml in (first, second, credit, debit):
        answer = send_set(xml)
        assert answer.all("//u:ErrorMessageList/@i:nil") == ["true"]
        keys.append(_zip_key(answer))
        assert str(uuid.UUID(keys[-1])) == keys[-1]
    for key in keys:
        result = status_zip(key).dian()
        assert (result["IsValid"], result["StatusCode"]) == (True, "00")
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.ACCEPTED
    late = status_zip(_zip_key(send_set(signed_invoice()[0]))).dian()
    assert (late["IsValid"], late["StatusCode"]) == (False, "2")
    assert (
        late["StatusDescription"]
        == f"Set de prueba con identificador {TEST_SET} se encuentra Aceptado."
    )


def test_test_set_waits_for_every_document_type(send_set, signed_invoice):
    invoices = [signed_invoice() for _ in range(3)]
    for xml, _ in invoices:
        send_set(xml)
    send_set(documents.sign(documents.note(invoices[0][1], "CreditNote", number="NC11")))
    # four accepted documents, but no debit note yet
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.IN_PROCESS


def test_test_set_is_rejected_after_too_many_rejections(send_set, status_zip):
    TestSet.objects.filter(test_set_id=TEST_SET).update(
        total_documents_required=5, accepted_required=4
    )
    bad = documents.finish(documents.invoice())
    bad.find(f"{{{documents.CBC}}}UUID").text = "2" * 96
    for _ in range(2):
        assert status_zip(_zip_key(send_set(documents.sign(bad)))).dian()["StatusCode"] == "99"
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.REJECTED
    refused = status_zip(_zip_key(send_set(documents.sign(documents.invoice())))).dian()
    assert refused["StatusDescription"].endswith("se encuentra Rechazado.")


def test_one_answer_per_document_of_a_batch(send_set, status_zip, signed_invoice):
    answer = status_zip(_zip_key(send_set(signed_invoice()[0], b"<broken")))
    assert [answer.dian(0)["StatusCode"], answer.dian(1)["StatusCode"]] == ["00", "89"]


def test_batch_in_process_answers_empty_status(send_set, status_zip, signed_invoice):
    SimulatorSettings.objects.filter(pk=1).update(batch_seconds=600)
    result = status_zip(_zip_key(send_set(signed_invoice()[0]))).dian()
    assert (result["StatusCode"], result["StatusDescription"]) == (
        "",
        "Batch en proceso de validación.",
    )
    assert result["IsValid"] is False


def test_status_zip_of_a_bad_or_unknown_track_id(status_zip):
    assert status_zip("not-a-guid").dian()["StatusDescription"] == "Formato trackId inválido."
    unknown = status_zip(str(uuid.uuid4())).dian()
    assert (unknown["StatusCode"], unknown["StatusDescription"]) == ("66", "TrackId no encontrado.")


def test_unknown_test_set_is_refused_without_zip_key(send_set, signed_invoice):
    other = str(uuid.uuid4())
    answer = send_set(signed_invoice()[0], test_set=other)
    assert answer.all("//x:ProcessedMessage") == [
        f"Set de prueba con identificador {other} no existe."
    ]
    assert answer.all("//x:Success") == ["false"]
    assert _zip_key(answer) == ""


def test_production_refuses_test_sets(send_set, signed_invoice):
    answer = send_set(signed_invoice()[0], url=PRODUCTION_URL)
    assert answer.all("//x:ProcessedMessage") == ["Acción no disponible en producción."]


def test_production_validates_send_bill_sync(call, signed_invoice):
    xml, _ = signed_invoice()
    assert (
        call("SendBillSync", documents.package(xml), url=PRODUCTION_URL).dian()["StatusCode"]
        == "00"
    )


def test_send_bill_async_answers_a_zip_key(call, status_zip, signed_invoice):
    params = documents.package(signed_invoice()[0])
    answer = call("SendBillAsync", params)
    assert status_zip(_zip_key(answer)).dian()["StatusCode"] == "00"


def test_get_status_of_an_accepted_document(call, signed_invoice):
    xml, root = signed_invoice()
    sent = call("SendBillSync", documents.package(xml)).dian()
    number = root.findtext(f"{{{documents.CBC}}}ID")
    status = call("GetStatus", {"trackId": sent["XmlDocumentKey"].upper()}).dian()
    assert (status["IsValid"], status["StatusCode"]) == (True, "00")
    assert (
        status["StatusMessage"] == f"La Factura electrónica SETP-{number[4:]}, ha sido autorizada."
    )
    assert status["XmlBase64Bytes"] == sent["XmlBase64Bytes"]


def test_get_status_of_a_rejected_document_keeps_its_errors(call):
    bad = documents.finish(documents.invoice())
    bad.find(f"{{{documents.CBC}}}UUID").text = "3" * 96
    call("SendBillSync", documents.package(documents.sign(bad)))
    status = call("GetStatus", {"trackId": "3" * 96}).dian()
    assert status["StatusCode"] == "99" and status["ErrorMessage"][0].startswith("Regla: FAD06")


def test_get_status_of_short_and_unknown_track_ids(call):
    assert (
        call("GetStatus", {"trackId": "abc"}).dian()["StatusDescription"]
        == "TrackId inválido (Length)."
    )
    unknown = call("GetStatus", {"trackId": "f" * 96}).dian()
    assert (unknown["StatusCode"], unknown["StatusDescription"]) == (
        "66", "TrackId no existe en los registros de la DIAN.",
    )  # fmt: skip


def _ranges(call, issuer="900373076", owner="800123456", software=documents.SOFTWARE_ID, **kw):
    return call(
        "GetNumberingRange",
        {"accountCode": issuer, "accountCodeT": owner, "softwareCode": software},
        **kw,
    )


def test_numbering_range_of_the_demo_software(call):
    answer = _ranges(call)
    assert (answer.text("//n:OperationCode"), answer.text("//n:OperationDescription")) == (
        "100", "Acción completada OK.",
    )  # fmt: skip
    assert answer.all("//r:Prefix") == ["SETP"]
    assert answer.all("//r:FromNumber") == ["990000000"]
    assert answer.all("//r:ToNumber") == ["995000000"]
    assert answer.all("//r:ResolutionNumber") == ["18760000001"]
    assert answer.all("//r:ValidDateTo") == ["2030-01-19"]
    assert answer.all("//r:TechnicalKey") == ["fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"]


def test_numbering_range_refusals(call):
    assert _ranges(call, software="nope").text("//n:OperationCode") == "302"
    assert _ranges(call, owner="900000001").text("//n:OperationCode") == "303"
    Software.objects.update(issuer_nits="800123456")
    assert _ranges(call).text("//n:OperationCode") == "303"
    Software.objects.update(issuer_nits="")
    NumberingRange.objects.update(valid_to=dt.date(2020, 1, 1))
    answer = _ranges(call)
    assert answer.text("//n:OperationCode") == "301"
    assert answer.all("//n:ResponseList/@i:nil") == ["true"]


def test_numbering_range_for_a_certificate_of_another_company_is_401(call):
    key, cert = wss.identity("811111111")
    assert _ranges(call, key=key, cert=cert).text("//n:OperationCode") == "401"


def test_get_xml_by_document_key(call, signed_invoice):
    xml, _ = signed_invoice()
    key = call("SendBillSync", documents.package(xml)).dian()["XmlDocumentKey"]
    answer = call("GetXmlByDocumentKey", {"trackId": key})
    assert answer.text("//e:Code") == "100"
    assert base64.b64decode(answer.text("//e:XmlBytesBase64")) == xml
    missing = call("GetXmlByDocumentKey", {"trackId": "9" * 96})
    assert missing.text("//e:Code") == "404"
