"""What ``bench/dian_simulator.py`` and ``bench/einvoice.py --e2e`` share: signed SendBillSync requests.

:func:`signed_requests` builds N invoices as the worker's document (``bench/einvoice.py``'s
``document``: the bench supplier, NIT 800123456, and DIAN's test numbering SETP 990000000 to
995000000), signs each with the product's signer, zips it under DIAN's file name and wraps it in
a signed SendBillSync request with the product's DIAN client, as the worker sends them.
:data:`CONTENT_TYPE` is the header such a request is POSTed with.

Django must be set up before these are called.
"""

from __future__ import annotations

import base64
import datetime as dt

SUPPLIER_NIT = "800123456"


def content_type() -> str:
    """The Content-Type of a SendBillSync request (SOAP 1.2, with its action)."""
    from clientarea.einvoice.dian import envelope

    return f'application/soap+xml;charset=UTF-8;action="{envelope.action("SendBillSync")}"'


def signed_requests(
    *, n: int, first: int, url: str, key, cert, issue: dt.datetime
) -> tuple[list[bytes], list[bytes]]:
    """N SendBillSync requests to ``url`` and the signed invoices in them.

    Invoice numbers are 990000000 + ``first`` + i, issued at ``issue``; the ZIPs' file names
    count 1 to N. Returns (the requests, the signed invoices), in the same order.
    """
    from einvoice import document  # bench/einvoice.py

    from clientarea.einvoice import signing, ubl
    from clientarea.einvoice.dian import envelope, files

    bodies, invoices = [], []
    for i in range(n):
        signed = signing.sign_invoice(
            ubl.build_invoice_xml(document(first + i, issue=issue)), key, cert
        )
        package = files.package(
            signed,
            files.DocumentKind.INVOICE,
            supplier_nit=SUPPLIER_NIT,
            year=issue.year,
            sequence=i + 1,
        )
        invoices.append(signed)
        bodies.append(
            envelope.build_request(
                operation="SendBillSync",
                params=[
                    ("fileName", package.file_name),
                    ("contentFile", base64.b64encode(package.content).decode()),
                ],
                to=url,
                key=key,
                certificate=cert,
            )
        )
    return bodies, invoices
