"""Credit and debit notes and the habilitación test set, from hand-written documents
(``handwritten.py``), against the simulator (dian-webservice.md §2.5, §3, §4)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from decimal import Decimal

import pytest
from lxml import etree

from clientarea.einvoice.sandbox.models import (
    ReceivedDocument,
    SimulatorSettings,
    Software,
    TestSet,
    TestSetStatus,
)

from . import documents, handwritten
from .conftest import PRODUCTION_URL

pytestmark = [pytest.mark.django_db, pytest.mark.urls("clientarea.einvoice.sandbox.tests.urls")]
TEST_SET = "7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35"  # seeded by the data migration
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


@pytest.fixture
def send(call):
    def run(xml: bytes) -> dict:
        answer = call("SendBillSync", documents.package(xml))
        assert answer.status == 200, answer.body[:500]
        return answer.dian()

    return run


@pytest.fixture
def accepted_invoice(send):
    def make(**kwargs) -> handwritten.Doc:
        doc = handwritten.invoice(**kwargs)
        result = send(handwritten.signed(doc))
        assert (result["IsValid"], result["StatusCode"]) == (True, "00"), result
        return doc

    return make


def rules(result: dict) -> list[str]:
    return [message.split(",")[0].removeprefix("Regla: ") for message in result["ErrorMessage"]]


def ar_code(result: dict) -> str:
    ar = etree.fromstring(base64.b64decode(result["XmlBase64Bytes"]))
    return ar.xpath("//*[local-name()='DocumentResponse']/*[local-name()='Response']/*[local-name()='ResponseCode']")[0].text  # fmt: skip


def test_credit_and_debit_notes_on_an_accepted_invoice(send, accepted_invoice):
    invoice = accepted_invoice()
    credit = handwritten.note("CreditNote", "NC100", invoice, price=Decimal("50000.00"))
    result = send(handwritten.signed(credit))
    assert (result["IsValid"], result["StatusCode"]) == (True, "00"), result
    assert result["XmlDocumentKey"] == credit.key
    assert result["StatusMessage"] == "La Nota crédito electrónica NC100, ha sido autorizada."
    assert ar_code(result) == "02"
    debit = handwritten.note("DebitNote", "ND100", invoice, price=Decimal("1000.00"))
    result = send(handwritten.signed(debit))  # its CUDE uses RequestedMonetaryTotal
    assert (result["IsValid"], result["StatusCode"]) == (True, "00"), result
    assert result["StatusMessage"] == "La Nota débito electrónica ND100, ha sido autorizada."


def test_cude_amounts_are_truncated_not_rounded(send, accepted_invoice):
    invoice = accepted_invoice()
    credit = handwritten.note("CreditNote", "NC101", invoice, price=Decimal("1000.009"))
    assert send(handwritten.signed(credit))["IsValid"] is True  # hashed as 1000.00 and 1190.00
    rounded = handwritten.note("CreditNote", "NC102", invoice, price=Decimal("1000.009"))
    root = etree.fromstring(handwritten.render(rounded))
    text = (
        f"NC102{rounded.date}{rounded.time}1000.01" "01190.00" "040.00" "030.00" "1190.01"
        f"{handwritten.SUPPLIER[0]}{handwritten.CUSTOMER[0]}{handwritten.PIN}2"
    )  # fmt: skip
    root.find(f"{{{CBC}}}UUID").text = hashlib.sha384(text.encode()).hexdigest()
    result = send(documents.sign(root))
    assert (result["IsValid"], rules(result)) == (False, ["CAD06"])


@pytest.mark.parametrize(("kind", "rule"), [("CreditNote", "CAD06"), ("DebitNote", "DAD06")])
def test_a_cude_with_the_technical_key_instead_of_the_pin_is_rejected(
    send, accepted_invoice, kind, rule
):
    invoice = accepted_invoice()
    note = handwritten.note(kind, f"N{rule}", invoice, secret=handwritten.TEST_KEY)
    result = send(handwritten.signed(note))
    assert (result["IsValid"], result["StatusCode"]) == (False, "99")
    assert rules(result) == [rule]
    assert ar_code(result) == "04"


def test_a_debit_note_cude_over_the_legal_total_is_dad06(send, accepted_invoice):
    """Debit notes hash RequestedMonetaryTotal; a key over other amounts does not match."""
    invoice = accepted_invoice()
    note = handwritten.note("DebitNote", "ND103", invoice, price=Decimal("2000.00"))
    xml = handwritten.render(note)
    other = handwritten.note("DebitNote", "ND103", invoice, price=Decimal("2100.00"))
    other.issued = note.issued
    root = etree.fromstring(xml)
    root.find(f"{{{CBC}}}UUID").text = handwritten.document_key(other)
    assert rules(send(documents.sign(root))) == ["DAD06"]


def test_the_cude_uses_the_pin_of_the_software_named_in_the_note(send, accepted_invoice):
    Software.objects.create(
        software_id="0f5e2c1a-7777-4d3b-9a1b-123456789abc", pin="54321", provider_nit="800123456"
    )
    invoice = accepted_invoice()
    own = handwritten.note(
        "CreditNote", "NC104", invoice, price=Decimal("1000.00"),
        software_id="0f5e2c1a-7777-4d3b-9a1b-123456789abc", pin="54321",
    )  # fmt: skip
    assert send(handwritten.signed(own))["IsValid"] is True
    demo_pin = handwritten.note(
        "CreditNote", "NC105", invoice, price=Decimal("1000.00"),
        software_id="0f5e2c1a-7777-4d3b-9a1b-123456789abc", pin="54321", secret=handwritten.PIN,
    )  # fmt: skip
    assert rules(send(handwritten.signed(demo_pin))) == ["CAD06"]


def test_billing_reference_must_match_number_cufe_and_date(send, accepted_invoice):
    invoice = accepted_invoice()
    cases = {
        "NC110": ([(invoice.number, "ab" * 48, invoice.date)], "CBG01"),
        "NC111": ([("SETP990000001", invoice.key, invoice.date)], "CBG01"),
        "NC112": ([(invoice.number, invoice.key, "2020-01-01")], "CBG02"),
    }
    for number, (references, rule) in cases.items():
        note = handwritten.note("CreditNote", number, references=references)
        note.customization = "20"
        result = send(handwritten.signed(note))
        assert (result["IsValid"], rules(result)) == (False, [rule]), (number, result)
    debit = handwritten.note(
        "DebitNote", "ND110", references=[(invoice.number, invoice.key, "2020-01-01")]
    )
    debit.customization = "30"
    assert rules(send(handwritten.signed(debit))) == ["DBG02"]


def test_a_note_on_a_rejected_invoice_is_rejected(send):
    invoice = handwritten.invoice(secret="not-the-key")
    assert send(handwritten.signed(invoice))["IsValid"] is False
    note = handwritten.note("CreditNote", "NC113", invoice)
    assert rules(send(handwritten.signed(note))) == ["CBG01"]


def test_notes_without_reference(send):
    for kind in ("CreditNote", "DebitNote"):
        note = handwritten.note(kind, f"{kind[0]}SR1")  # 22 / 32 with InvoicePeriod
        assert note.customization in ("22", "32")
        result = send(handwritten.signed(note))
        assert (result["IsValid"], result["ErrorMessage"]) == (True, []), result
    missing = handwritten.note("CreditNote", "NC114")
    missing.customization = "20"  # 20 must reference an invoice
    assert rules(send(handwritten.signed(missing))) == ["CBG01"]


def test_crediting_more_than_remains_of_the_invoice_is_notified(send, accepted_invoice):
    invoice = accepted_invoice(price=Decimal("100000.00"))  # total 119000.00
    first = handwritten.note("CreditNote", "NC120", invoice, price=Decimal("60000.00"))
    assert send(handwritten.signed(first))["ErrorMessage"] == []  # 71400.00 of 119000.00
    second = handwritten.note("CreditNote", "NC121", invoice, price=Decimal("50000.00"))
    result = send(handwritten.signed(second))  # 59500.00 > 47600.00 remaining
    assert (result["IsValid"], result["StatusCode"]) == (True, "00")
    assert result["ErrorMessage"] == [
        f"Regla: CBG03, Notificación: El valor de la nota (59500.00) supera el saldo de la "
        f"factura {invoice.number} (47600.00)."
    ]
    # a debit note raises what remains
    other = accepted_invoice(price=Decimal("100000.00"))
    debit = handwritten.note("DebitNote", "ND120", other, price=Decimal("10000.00"))
    assert send(handwritten.signed(debit))["IsValid"] is True  # +11900.00
    credit = handwritten.note("CreditNote", "NC122", other, price=Decimal("110000.00"))
    assert send(handwritten.signed(credit))["ErrorMessage"] == []  # 130900.00 = 119000 + 11900


def test_a_note_crediting_the_whole_value_of_a_rounded_invoice_is_not_notified(
    send, accepted_invoice
):
    """240.001 + 19 % IVA is 285.601,19, payable 285.601 (PayableRoundingAmount −0,19). A note
    annulling it credits its value, 285.601,19: the rounding of the amount to pay is not part of
    what was sold, so nothing remains and nothing is over-credited (it used to notify CBG03
    against the PayableAmount)."""
    invoice = accepted_invoice(price=Decimal("240001.00"), rounding=Decimal("-0.19"))
    assert invoice.payable == Decimal("285601.00")
    whole = handwritten.note("CreditNote", "NC125", invoice, price=Decimal("240001.00"))
    result = send(handwritten.signed(whole))
    assert (result["IsValid"], result["ErrorMessage"]) == (True, []), result
    # Beyond the value, a cent more is still notified, against what remains (nothing).
    more = handwritten.note("CreditNote", "NC126", invoice, price=Decimal("0.01"))
    result = send(handwritten.signed(more))
    assert result["ErrorMessage"] == [
        f"Regla: CBG03, Notificación: El valor de la nota (0.01) supera el saldo de la "
        f"factura {invoice.number} (0.00)."
    ]


def test_note_numbers_are_unique_per_issuer_and_type(send, accepted_invoice):
    invoice = accepted_invoice()
    first = handwritten.note("CreditNote", "NC130", invoice)
    first_result = send(handwritten.signed(first))
    again = handwritten.note("CreditNote", "NC130", invoice, price=Decimal("10.00"))
    result = send(handwritten.signed(again))  # another CUDE, same NIT + type + number
    assert result["ErrorMessage"] == ["Regla: 90, Rechazo: Documento procesado anteriormente."]
    assert result["XmlDocumentKey"] == first_result["XmlDocumentKey"] == first.key
    debit = handwritten.note("DebitNote", "NC130", invoice)  # other type: another key
    assert send(handwritten.signed(debit))["IsValid"] is True
    # a rejected number is not consumed
    bad = handwritten.note("CreditNote", "NC131", invoice, secret="x")
    assert send(handwritten.signed(bad))["IsValid"] is False
    fixed = handwritten.note("CreditNote", "NC131", invoice)
    assert send(handwritten.signed(fixed))["IsValid"] is True


def test_notes_are_validated_against_their_own_schema(send, accepted_invoice):
    invoice = accepted_invoice()
    note = handwritten.note("CreditNote", "NC140", invoice)
    root = etree.fromstring(handwritten.render(note))
    discrepancy = root.find(f"{{{CAC}}}DiscrepancyResponse")
    root.find(f"{{{CAC}}}BillingReference").addnext(discrepancy)  # out of XSD order
    result = send(documents.sign(root))
    assert (result["StatusCode"], rules(result)) == ("99", ["ZB01"])
    debit = handwritten.note("DebitNote", "ND140", invoice)
    root = etree.fromstring(handwritten.render(debit))
    root.find(f"{{{CAC}}}RequestedMonetaryTotal").tag = f"{{{CAC}}}LegalMonetaryTotal"
    assert rules(send(documents.sign(root))) == ["ZB01"]


# --- the habilitación test set -------------------------------------------------------------------


@pytest.fixture
def send_set(call):
    def run(*xmls: bytes, test_set: str = TEST_SET, url=None):
        files = {f"doc{i}.xml": xml for i, xml in enumerate(xmls)}
        params = {
            "fileName": "z.zip",
            "contentFile": documents.zipped(files),
            "testSetId": test_set,
        }
        answer = call("SendTestSetAsync", params, **({"url": url} if url else {}))
        assert answer.status == 200
        return answer.text("//u:ZipKey")

    return run


@pytest.fixture
def status_zip(call):
    return lambda key: call("GetStatusZip", {"trackId": key})


def test_the_test_set_with_handwritten_documents(send_set, status_zip):
    SimulatorSettings.objects.update_or_create(pk=1, defaults={"batch_seconds": 0})
    invoices = [handwritten.invoice() for _ in range(2)]
    keys = [send_set(handwritten.signed(doc)) for doc in invoices]
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.IN_PROCESS
    keys.append(send_set(handwritten.signed(handwritten.note("CreditNote", "NC1", invoices[0]))))
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.IN_PROCESS
    keys.append(send_set(handwritten.signed(handwritten.note("DebitNote", "ND1", invoices[1]))))
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.ACCEPTED
    assert [status_zip(key).dian()["StatusCode"] for key in keys] == ["00"] * 4
    late = status_zip(send_set(handwritten.signed(handwritten.invoice()))).dian()
    assert (late["IsValid"], late["StatusCode"], late["StatusDescription"]) == (
        False,
        "2",
        f"Set de prueba con identificador {TEST_SET} se encuentra Aceptado.",
    )


def test_test_set_pending_then_final(send_set, status_zip):
    SimulatorSettings.objects.update_or_create(pk=1, defaults={"batch_seconds": 3600})
    key = send_set(handwritten.signed(handwritten.invoice()))
    assert status_zip(key).dian()["StatusCode"] == ""
    SimulatorSettings.objects.filter(pk=1).update(batch_seconds=0)
    from clientarea.einvoice.sandbox.models import Batch

    Batch.objects.update(ready_at="2000-01-01T00:00:00Z")
    assert status_zip(key).dian()["StatusCode"] == "00"


def test_test_set_counts_the_required_types(send_set):
    """Four accepted invoices are not a set of 2 invoices + 1 credit + 1 debit note."""
    for _ in range(4):
        send_set(handwritten.signed(handwritten.invoice()))
    test_set = TestSet.objects.get(test_set_id=TEST_SET)
    assert test_set.status == TestSetStatus.IN_PROCESS
    assert ReceivedDocument.objects.filter(batch__test_set=test_set, is_valid=True).count() == 4


def test_test_set_counts_invoices_by_their_type_code(send_set):
    """DIAN counts invoices of types 1/01/02/03 only: two accepted 04 invoices do not do."""
    for _ in range(2):
        send_set(handwritten.signed(handwritten.invoice(type_code="04")))
    assert ReceivedDocument.objects.filter(type_code="04", is_valid=True).count() == 2
    first = handwritten.invoice()
    send_set(handwritten.signed(first))
    send_set(
        handwritten.signed(handwritten.note("CreditNote", "NC2", first, price=Decimal("10.00")))
    )
    send_set(handwritten.signed(handwritten.note("DebitNote", "ND2", first)))
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.IN_PROCESS
    send_set(handwritten.signed(handwritten.invoice(type_code="02")))
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.ACCEPTED


def test_test_set_rejected_when_rejections_exceed_the_margin(send_set, status_zip):
    TestSet.objects.filter(test_set_id=TEST_SET).update(
        total_documents_required=4, accepted_required=4
    )
    bad = handwritten.note("CreditNote", "NC9", secret="x")  # 22 note with a wrong CUDE
    assert status_zip(send_set(handwritten.signed(bad))).dian()["StatusCode"] == "99"
    assert TestSet.objects.get(test_set_id=TEST_SET).status == TestSetStatus.REJECTED


def test_test_sets_only_in_habilitacion(send_set, call):
    files = {"doc.xml": handwritten.signed(handwritten.invoice())}
    params = {"fileName": "z.zip", "contentFile": documents.zipped(files), "testSetId": TEST_SET}
    answer = call("SendTestSetAsync", params, url=PRODUCTION_URL)
    assert answer.all("//x:ProcessedMessage") == ["Acción no disponible en producción."]
    assert answer.text("//u:ZipKey") == ""


def test_faults_apply_to_notes_and_test_sets(client, send, send_set, call, accepted_invoice):
    invoice = accepted_invoice()
    client.post("/sandbox/dian/faults", {"kind": "reject_next", "rule_code": "CAJ44b",
                                         "rule_text": "Rechazo inyectado."})  # fmt: skip
    result = send(handwritten.signed(handwritten.note("CreditNote", "NC150", invoice)))
    assert result["ErrorMessage"] == ["Regla: CAJ44b, Rechazo: Rechazo inyectado."]
    client.post("/sandbox/dian/faults", {"kind": "http_503"})
    files = {"doc.xml": handwritten.signed(handwritten.invoice())}
    params = {"fileName": "z.zip", "contentFile": documents.zipped(files), "testSetId": TEST_SET}
    assert call("SendTestSetAsync", params).status == 503
    key = send_set(handwritten.signed(handwritten.invoice()))
    client.post("/sandbox/dian/faults", {"kind": "in_process"})
    assert call("GetStatusZip", {"trackId": key}).dian()["StatusCode"] == ""
    assert call("GetStatusZip", {"trackId": key}).dian()["StatusCode"] == "00"


@pytest.mark.parametrize(
    "params",
    [
        {"fileName": "z.zip", "contentFile": "%%%not base64", "testSetId": TEST_SET},
        {"fileName": "z.zip", "testSetId": TEST_SET},
        {"fileName": "z.zip", "contentFile": base64.b64encode(b"PK\x03\x04junk").decode(),
         "testSetId": TEST_SET},
        {"fileName": "z.zip", "contentFile": documents.zipped({"a.xml": b"<x/>"}),
         "testSetId": "not-a-guid"},
    ],
)  # fmt: skip
def test_malformed_test_set_calls_are_answered_not_crashed(call, params):
    answer = call("SendTestSetAsync", params)
    assert answer.status == 200
    assert answer.text("//u:ZipKey") == ""
    assert answer.all("//x:Success") == ["false"]


def test_a_broken_note_in_a_batch_is_89_and_counts_as_rejected(send_set, status_zip):
    key = send_set(b"<CreditNote><unclosed></CreditNote>")
    assert status_zip(key).dian()["StatusCode"] == "89"
    assert str(uuid.UUID(key)) == key
