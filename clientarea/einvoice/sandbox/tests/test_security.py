"""Transport and WS-Security: what a WCF service refuses, and how (never a traceback)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes
from lxml import etree

from clientarea.einvoice.sandbox.models import SimulatorSettings

from . import documents, wss
from .conftest import URL

pytestmark = [pytest.mark.django_db, pytest.mark.urls("clientarea.einvoice.sandbox.tests.urls")]
TRACK = {"trackId": "a" * 96}


def _assert_fault(answer, status=500, code="s:Sender"):
    assert answer.status == status
    assert b"Traceback" not in answer.body
    assert answer.text("//s:Fault/s:Code/s:Value") == code
    return answer


def test_a_signed_request_is_answered(call):
    answer = call("GetStatus", TRACK)
    assert answer.status == 200
    assert answer.text("//s:Header/*[local-name()='Action']").endswith("/GetStatusResponse")
    assert answer.dian()["StatusCode"] == "66"


def test_timestamp_may_be_signed_too(call):
    assert call("GetStatus", TRACK, sign_timestamp=True).status == 200


def test_unsigned_request_is_refused(call):
    answer = _assert_fault(call("GetStatus", TRACK, sign=False))
    assert answer.fault_reason == "An error occurred when verifying security for the message."
    assert "ds:Signature" in answer.fault_detail


def test_request_without_security_header_is_refused(post):
    env = wss.envelope("GetStatus", TRACK)
    security = env.find(f".//{{{wss.WSSE}}}Security")
    security.getparent().remove(security)
    assert "wsse:Security" in _assert_fault(post(etree.tostring(env))).fault_detail


def test_expired_timestamp_is_refused(call):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert "expired" in _assert_fault(call("GetStatus", TRACK, created=old)).fault_detail


def test_timestamp_from_the_future_is_refused(call):
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert "future" in _assert_fault(call("GetStatus", TRACK, created=future)).fault_detail


def test_signature_must_cover_wsa_to(call):
    answer = _assert_fault(call("GetStatus", TRACK, sign_to=False, sign_timestamp=True))
    assert "wsa:To" in answer.fault_detail


def test_tampered_to_is_refused(post):
    env = wss.envelope("GetStatus", TRACK)
    env.find(f".//{{{wss.WSA}}}To").text = "https://elsewhere.example/"
    assert "Digest mismatch" in _assert_fault(post(etree.tostring(env))).fault_detail


def test_tampered_signature_value_is_refused(post):
    env = wss.envelope("GetStatus", TRACK)
    value = env.find(f".//{{{wss.DS}}}SignatureValue")
    value.text = value.text[:10] + ("A" if value.text[10] != "A" else "B") + value.text[11:]
    _assert_fault(post(etree.tostring(env)))


def test_signature_by_another_key_than_the_token_is_refused(post):
    key, _ = wss.identity("900373076")
    _, cert = wss.identity()
    _assert_fault(post(wss.request("GetStatus", TRACK, key=key, cert=cert)))


def test_token_that_is_not_a_certificate_is_refused(post):
    env = wss.envelope("GetStatus", TRACK)
    env.find(f".//{{{wss.WSSE}}}BinarySecurityToken").text = "bm90IGEgY2VydA=="
    assert "DER" in _assert_fault(post(etree.tostring(env))).fault_detail


def test_action_not_matching_the_body_is_refused(call):
    answer = _assert_fault(
        call(
            "GetStatus",
            TRACK,
            action="http://wcf.dian.colombia/IWcfDianCustomerServices/SendBillSync",
        )
    )
    assert "ContractFilter mismatch" in answer.fault_reason
    assert answer.text("//s:Fault/s:Code/s:Subcode/s:Value") == "a:ActionNotSupported"


def test_unknown_operation_is_refused(call):
    _assert_fault(call("SendNominaSync", {"contentFile": "AA=="}))


def test_http_action_must_match_wsa_action(post):
    body = wss.request("GetStatus", TRACK)
    ct = 'application/soap+xml;charset=UTF-8;action="http://wcf.dian.colombia/IWcfDianCustomerServices/GetStatusZip"'
    _assert_fault(post(body, content_type=ct))
    ok = 'application/soap+xml;charset=UTF-8;action="http://wcf.dian.colombia/IWcfDianCustomerServices/GetStatus"'
    assert post(body, content_type=ok).status == 200


def test_malformed_xml_is_a_400(post):
    answer = post(b"<soap:Envelope><unclosed>")
    assert answer.status == 400 and b"Traceback" not in answer.body


def test_not_an_envelope_is_a_400(post):
    assert post(b"<hello/>").status == 400


def test_soap_11_is_refused(post):
    body = b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>'
    assert post(body).status == 415


def test_wrong_content_type_is_a_415(post):
    answer = post(wss.request("GetStatus", TRACK), content_type="text/xml")
    assert answer.status == 415 and b"application/soap+xml" in answer.body


def test_get_is_not_allowed(client):
    response = client.get(URL)
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_expired_certificate_is_a_client_fault(call):
    key, cert = wss.identity(days_valid=10, starts_in_days=-30)
    answer = _assert_fault(call("GetStatus", TRACK, key=key, cert=cert), code="s:Client")
    assert answer.fault_reason == "Certificado se encuentra expirado."


def test_certificate_not_yet_valid_is_a_client_fault(call):
    key, cert = wss.identity(starts_in_days=5)
    answer = _assert_fault(call("GetStatus", TRACK, key=key, cert=cert), code="s:Client")
    assert answer.fault_reason == "Certificado aún no se encuentra vigente."


def test_trusted_fingerprints_restrict_the_callers(call):
    _, cert = wss.identity()
    settings = SimulatorSettings.objects.get(pk=1)
    settings.trusted_fingerprints = "00" * 32
    settings.save()
    answer = _assert_fault(call("GetStatus", TRACK), code="s:Client")
    assert answer.fault_reason == "The creator of this fault did not specify a Reason."
    settings.trusted_fingerprints = f"00\n{cert.fingerprint(hashes.SHA256()).hex().upper()}"
    settings.save()
    assert call("GetStatus", TRACK).status == 200


def test_certificate_nit_must_be_authorized_for_the_issuer(call, signed_invoice):
    key, cert = wss.identity("811111111")  # not the issuer (900373076) nor the software provider
    xml, _ = signed_invoice()
    result = call("SendBillSync", documents.package(xml), key=key, cert=cert).dian()
    assert result["StatusCode"] == "89"
    assert result["StatusDescription"] == (
        "NIT 811111111 no autorizado a enviar documentos para emisor con NIT 900373076."
    )


@pytest.mark.parametrize("nit", ["900373076", "9003730764", "800123456"])
def test_issuer_or_software_provider_certificate_may_send(call, signed_invoice, nit):
    key, cert = wss.identity(nit)  # the issuer, the issuer with its DV, the software provider
    xml, _ = signed_invoice()
    assert (
        call("SendBillSync", documents.package(xml), key=key, cert=cert).dian()["StatusCode"]
        == "00"
    )


def test_certificate_without_nit_when_dian_requires_one(call, signed_invoice):
    SimulatorSettings.objects.filter(pk=1).update(require_certificate_nit=True)
    xml, _ = signed_invoice()
    result = call("SendBillSync", documents.package(xml)).dian()
    assert (result["StatusCode"], result["StatusDescription"]) == (
        "89", "NIT de la empresa no informado en el certificado.",
    )  # fmt: skip


def _with_thumbprint_reference(env, cert):
    import base64

    str_el = env.find(f".//{{{wss.WSSE}}}SecurityTokenReference")
    str_el.remove(str_el[0])
    identifier = etree.SubElement(str_el, f"{{{wss.WSSE}}}KeyIdentifier")
    identifier.set(
        "ValueType",
        "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1",
    )
    identifier.text = base64.b64encode(cert.fingerprint(hashes.SHA1())).decode()  # noqa: S303  (the thumbprint is SHA-1 by definition)
    return env


def test_thumbprint_reference_of_the_wsdl_policy_is_accepted(post):
    key, cert = wss.identity()
    env = _with_thumbprint_reference(wss.envelope("GetStatus", TRACK, key=key, cert=cert), cert)
    assert post(etree.tostring(env)).status == 200


def test_thumbprint_of_another_certificate_is_refused(post):
    _, other = wss.identity("900373076")
    env = _with_thumbprint_reference(wss.envelope("GetStatus", TRACK), other)
    assert "KeyInfo" in _assert_fault(post(etree.tostring(env))).fault_detail


def test_query_string_is_ignored_on_post(post):
    """Odoo posts to the URL with ?wsdl appended, and DIAN answers (dian-webservice.md §1.1)."""
    assert post(wss.request("GetStatus", TRACK), url=URL + "?wsdl").status == 200


def test_an_internal_error_is_a_generic_fault_without_traceback(post, signed_invoice):
    from unittest import mock

    xml, _ = signed_invoice()
    with mock.patch(
        "clientarea.einvoice.sandbox.services.validate_document", side_effect=RuntimeError("boom")
    ):
        answer = _assert_fault(
            post(wss.request("SendBillSync", documents.package(xml))), code="s:Receiver"
        )
    assert answer.fault_reason.startswith("The server was unable to process the request")
    assert b"boom" not in answer.body


def test_message_over_the_size_limit_is_a_413(post):
    from unittest import mock

    with mock.patch("clientarea.einvoice.sandbox.views.MAX_BYTES", 100):
        assert post(wss.request("GetStatus", TRACK)).status == 413
