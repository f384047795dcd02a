"""Real concurrency on PostgreSQL: one document sent twice at the same time is accepted once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from clientarea.einvoice.sandbox import services
from clientarea.einvoice.sandbox.models import ReceivedDocument

from . import documents

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_sends_of_one_document_accept_it_once(signed_invoice):
    services.seed()  # a transactional test may run after another one flushed the seed rows
    services.signing_identity()  # created once before the race
    xml, root = signed_invoice()
    package = documents.package(xml)
    barrier = threading.Barrier(4)
    answers = []

    def send() -> None:
        try:
            barrier.wait()
            answers.append(
                services.send_bill_sync(
                    file_name=package["fileName"],
                    content=package["contentFile"],
                    certificate_nit=None,
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(a.status_code or "" for a in answers)
    assert codes == ["00", "99", "99", "99"]
    key = root.findtext(f"{{{documents.CBC}}}UUID").lower()
    assert {a.document_key for a in answers} == {key}
    assert all(
        a.errors == ("Regla: 90, Rechazo: Documento procesado anteriormente.",)
        for a in answers
        if a.status_code == "99"
    )
    assert ReceivedDocument.objects.filter(is_valid=True, document_key=key).count() == 1
