"""QR code of the invoice: DIAN lookup URL and the printed key-fields text (§4).

Two forms are used on purpose (see ``shared/docs/dian-einvoice.md`` §4):
- ``sts:QRCode`` in the XML carries only the URL, because the DIAN XSD types
  it ``anyURI`` and the multi-line text fails strict validation;
- the printed QR carries the ``Key: value`` block observed in a
  DIAN-accepted invoice (S3), whose last line is that same URL, so scanning it
  shows the CUFE as DIAN's site asks.
"""

from __future__ import annotations

from clientarea.einvoice.documents import InvoiceDocument, money_str

_HOSTS = {
    "1": "https://catalogo-vpfe.dian.gov.co",  # producción
    "2": "https://catalogo-vpfe-hab.dian.gov.co",  # habilitación / pruebas
}


def qr_url(cufe: str, environment: str) -> str:
    """DIAN's public lookup URL for a CUFE (``-hab`` host for environment 2)."""
    try:
        host = _HOSTS[environment]
    except KeyError:
        raise ValueError(f"unknown DIAN environment {environment!r}") from None
    return f"{host}/document/searchqr?documentkey={cufe}"


def qr_text(doc: InvoiceDocument, cufe: str) -> str:
    """The printed QR content: one ``Key: value`` per line, URL last (§4, S3).

    Amounts use the same formatting as the XML, so the QR matches the CUFE input.
    """
    other_taxes = money_str(doc.tax_inclusive_amount - doc.line_extension_total - doc.iva_total)
    lines = [
        f"NumFac: {doc.full_id}",
        f"FecFac: {doc.issue_date_str}",
        f"HorFac: {doc.issue_time_str}",
        f"NitFac: {doc.supplier.document_number}",
        f"DocAdq: {doc.customer.document_number}",
        f"ValFac: {money_str(doc.line_extension_total)}",
        f"ValIva: {money_str(doc.iva_total)}",
        f"ValOtroIm: {other_taxes}",
        f"ValTolFac: {money_str(doc.payable_amount)}",
        f"{'CUDE' if doc.is_note else 'CUFE'}: {cufe}",
        qr_url(cufe, doc.environment),
    ]
    return "\n".join(lines)
