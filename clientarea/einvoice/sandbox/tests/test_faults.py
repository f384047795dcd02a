"""Fault switches (HTTP API, Python API, admin) and the seed command."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.management import call_command
from django.urls import reverse

from clientarea.einvoice.sandbox import faults
from clientarea.einvoice.sandbox.models import Fault, NumberingRange, Software, TestSet

from . import documents

pytestmark = [pytest.mark.django_db, pytest.mark.urls("clientarea.einvoice.sandbox.tests.urls")]
FAULTS = "/sandbox/dian/faults"
TRACK = {"trackId": "a" * 96}


def test_http_500_then_normal_again(client, call):
    assert client.post(FAULTS, {"kind": "http_500"}).status_code == 201
    first = call("GetStatus", TRACK)
    assert (first.status, first.body) == (500, b"")
    assert call("GetStatus", TRACK).status == 200


def test_http_503(client, call):
    client.post(FAULTS, {"kind": "http_503"})
    answer = call("GetStatus", TRACK)
    assert answer.status == 503 and b"Service Unavailable" in answer.body


def test_garbage_body(client, call):
    client.post(FAULTS, {"kind": "garbage"})
    answer = call("GetStatus", TRACK)
    assert answer.status == 200 and answer.root is None


def test_slow_answer_waits_then_answers(client, call):
    client.post(FAULTS, {"kind": "slow", "seconds": "7"})
    with mock.patch("clientarea.einvoice.sandbox.views.time.sleep") as sleep:
        answer = call("GetStatus", TRACK)
    sleep.assert_called_once_with(7)
    assert answer.status == 200 and answer.dian()["StatusCode"] == "66"


def test_timeout_holds_the_connection_and_gives_no_answer(client, call):
    client.post(FAULTS, {"kind": "timeout", "seconds": "65"})
    with mock.patch("clientarea.einvoice.sandbox.views.time.sleep") as sleep:
        answer = call("GetStatus", TRACK)
    sleep.assert_called_once_with(65)
    assert answer.status == 504 and answer.body == b""


def test_in_process_status(call):
    faults.arm_fault(kind="in_process")
    status = call("GetStatus", TRACK).dian()
    assert (status["StatusCode"], status["StatusDescription"]) == ("98", "En Proceso")


def test_fault_until_cleared(client, call):
    faults.arm_fault(kind="http_503", times=0)
    assert [call("GetStatus", TRACK).status for _ in range(3)] == [503, 503, 503]
    assert client.delete(FAULTS).json() == {"cleared": 1}
    assert call("GetStatus", TRACK).status == 200


def test_bad_fault_requests(client):
    assert client.post(FAULTS, {"kind": "explode"}).status_code == 400
    assert client.post(FAULTS, {"kind": "slow", "seconds": "x"}).status_code == 400
    assert client.get(FAULTS).status_code == 405
    assert Fault.objects.count() == 0


def test_reject_next_defaults_to_a_cufe_rejection(call, signed_invoice):
    Fault.objects.create(kind="reject_next")  # as the admin's form saves it: no rule
    result = call("SendBillSync", documents.package(signed_invoice()[0])).dian()
    assert result["ErrorMessage"] == [
        "Regla: FAD06, Rechazo: Valor del CUFE no está calculado correctamente."
    ]


def test_seed_command_is_idempotent_and_takes_other_values(capsys):
    call_command("dian_sandbox_seed")  # the data migration already seeded the demo values
    assert Software.objects.count() == 1 and TestSet.objects.count() == 1
    call_command(
        "dian_sandbox_seed", "--software-id", "11111111-2222-3333-4444-555555555555",
        "--pin", "54321", "--provider-nit", "900373076",
        "--test-set-id", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    )  # fmt: skip
    assert Software.objects.get(software_id="11111111-2222-3333-4444-555555555555").pin == "54321"
    assert NumberingRange.objects.count() == 2 and TestSet.objects.count() == 2
    assert "test set aaaaaaaa" in capsys.readouterr().out


@pytest.mark.urls("clientarea.urls")
def test_back_office_pages(admin_client, call, signed_invoice):
    faults.arm_fault(kind="slow", seconds=1)
    faults.clear_faults()
    for model in (
        "simulatorsettings",
        "software",
        "numberingrange",
        "testset",
        "batch",
        "receiveddocument",
        "fault",
    ):
        assert (
            admin_client.get(reverse(f"admin:dian_sandbox_{model}_changelist")).status_code == 200
        )
    assert (
        admin_client.get(
            reverse("admin:dian_sandbox_software_change", args=[Software.objects.get().pk])
        ).status_code
        == 200
    )


def test_back_office_texts_are_in_spanish():
    from django.apps import apps
    from django.utils import translation

    with translation.override("es"):
        assert str(apps.get_app_config("dian_sandbox").verbose_name) == "Simulador de la DIAN"
        assert str(Fault._meta.verbose_name_plural) == "interruptores de falla"


def test_send_bill_sync_reads_the_armed_faults_once(call, signed_invoice):
    """At most one read of the fault switches per request serves the transport and the verdict
    faults (none while the data stamp is unchanged: ``test_known.py``)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    package = documents.package(signed_invoice()[0])
    with CaptureQueriesContext(connection) as queries:
        result = call("SendBillSync", package).dian()
    assert result["StatusCode"] == "00"
    reads = [q["sql"] for q in queries if Fault._meta.db_table in q["sql"]]
    assert len(reads) <= 1, reads


def test_a_verdict_fault_armed_with_a_transport_one_both_apply(client, call, signed_invoice):
    client.post(FAULTS, {"kind": "slow", "seconds": "3"})
    faults.arm_fault(kind="notify_next", rule_code="FAJ44b", rule_text="Nombre distinto.")
    with mock.patch("clientarea.einvoice.sandbox.views.time.sleep") as sleep:
        result = call("SendBillSync", documents.package(signed_invoice()[0])).dian()
    sleep.assert_called_once_with(3)
    assert result["StatusCode"] == "00"
    assert result["ErrorMessage"] == ["Regla: FAJ44b, Notificación: Nombre distinto."]
    assert not Fault.objects.filter(active=True).exists()


def test_the_fault_form_says_what_each_box_is_for(admin_client):
    """Arming "reject the next document" showed empty "Rule code" and "Rule text" boxes with no
    word on whether they were needed or what an empty one does."""
    page = admin_client.get(reverse("admin:dian_sandbox_fault_add")).content.decode()
    assert "Solo para una respuesta lenta o un tiempo de espera agotado." in page
    assert (
        "Vacío: FAD06" in page
        and "FAJ44b" in page
        and "Vacío: el texto habitual de la regla." in page
    )


def test_a_rejection_armed_without_a_rule_uses_a_rule_dian_rejects_with(call, signed_invoice):
    """The default was FAJ44b, whose explanation says "notice only" under a rejection."""
    from clientarea.einvoice.rules import plain_words

    Fault.objects.create(kind="reject_next")  # as the admin's form saves it: no rule
    result = call("SendBillSync", documents.package(signed_invoice()[0])).dian()
    assert (result["StatusCode"], result["IsValid"]) == ("99", False)
    [message] = result["ErrorMessage"]
    assert message == "Regla: FAD06, Rechazo: Valor del CUFE no está calculado correctamente."
    assert "CUFE" in plain_words("FAD06") and "notice only" not in plain_words("FAD06")


def test_a_notice_armed_without_a_rule_stays_faj44b(call, signed_invoice):
    Fault.objects.create(kind="notify_next")
    result = call("SendBillSync", documents.package(signed_invoice()[0])).dian()
    assert result["StatusCode"] == "00"
    assert result["ErrorMessage"] == [
        "Regla: FAJ44b, Notificación: Nombre informado no corresponde al registrado en el RUT "
        "con respecto al NIT."
    ]
