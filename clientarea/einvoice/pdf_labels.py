"""The invoice PDF's words: labels in Spanish and English, and names for DIAN's codes.

The Spanish legal title stays on the English version too (DIAN asks for it).
"""

from __future__ import annotations

import functools

from clientarea.lib.codelists import codelist

LEGAL_TITLE = "Factura electrónica de venta"

LABELS: dict[str, dict[str, str]] = {
    "es": {
        "title": "FACTURA ELECTRÓNICA DE VENTA",
        "number": "No.",
        "issued": "Emitida",
        "resolution": (
            "Autorización de numeración DIAN No. {number} · Prefijo {prefix} · "
            "Rango {start} a {end} · Vigencia {valid_from} a {valid_to}"
        ),
        "iva_responsible": "Responsable de IVA",
        "iva_not_responsible": "No responsable de IVA",
        "withholder_yes": "Agente retenedor de IVA",
        "withholder_no": "No es agente retenedor de IVA",
        "buyer": "ADQUIRIENTE",
        "details": "DATOS DE LA FACTURA",
        "issue_date": "Fecha de emisión",
        "issue_time": "Hora de emisión",
        "due_date": "Fecha de vencimiento",
        "payment_form": "Forma de pago",
        "payment_means": "Medio de pago",
        "order": "Orden de servicio",
        "currency": "Moneda",
        "col_no": "#",
        "col_description": "Descripción",
        "col_period": "Periodo",
        "col_qty": "Cant.",
        "col_price": "Valor unitario",
        "col_tax": "IVA",
        "col_total": "Valor",
        "exempt": "Exento",
        "excluded": "Excluido",
        "subtotal": "Subtotal",
        "iva_on": "IVA {rate} % sobre {base}",
        "exempt_base": "Base exenta de IVA (0 %)",
        "excluded_base": "Base excluida de IVA",
        "iva_total": "Total IVA",
        "rounding": "Redondeo a pesos enteros",
        "payable": "TOTAL A PAGAR",
        "document_total": "Total de la factura",
        "prepaid": "Anticipo: saldo a favor aplicado {id} ({date})",
        "withheld": "{name} {rate} % de {base}",
        "withheld_title": "Retenciones practicadas por el comprador",
        "net_paid": "Neto pagado después de retenciones",
        "notes": "Observaciones",
        "cufe": "CUFE",
        "qr_hint": "Escanee el código QR o consulte el documento en:",
        "representation": "Representación gráfica de la factura electrónica de venta.",
        "software": "Software de facturación: {name} · Proveedor NIT {nit} · ID de software {software_id}",
        "page": "Página {page} de {pages}",
        "phone": "Tel.",
    },
    "en": {
        "title": "ELECTRONIC SALES INVOICE",
        "number": "No.",
        "issued": "Issued",
        "resolution": (
            "DIAN numbering authorization No. {number} · Prefix {prefix} · "
            "Range {start} to {end} · Valid {valid_from} to {valid_to}"
        ),
        "iva_responsible": "VAT (IVA) registered",
        "iva_not_responsible": "Not VAT (IVA) registered",
        "withholder_yes": "IVA withholding agent",
        "withholder_no": "Not an IVA withholding agent",
        "buyer": "BILL TO",
        "details": "INVOICE DETAILS",
        "issue_date": "Issue date",
        "issue_time": "Issue time",
        "due_date": "Due date",
        "payment_form": "Payment terms",
        "payment_means": "Payment method",
        "order": "Service order",
        "currency": "Currency",
        "col_no": "#",
        "col_description": "Description",
        "col_period": "Period",
        "col_qty": "Qty",
        "col_price": "Unit price",
        "col_tax": "VAT",
        "col_total": "Amount",
        "exempt": "Exempt",
        "excluded": "Excluded",
        "subtotal": "Subtotal",
        "iva_on": "VAT (IVA) {rate} % on {base}",
        "exempt_base": "VAT-exempt base (0 %)",
        "excluded_base": "Base excluded from VAT",
        "iva_total": "Total VAT (IVA)",
        "rounding": "Rounding to whole pesos",
        "payable": "TOTAL DUE",
        "document_total": "Invoice total",
        "prepaid": "Prepaid: account credit applied {id} ({date})",
        "withheld": "{name} {rate} % of {base}",
        "withheld_title": "Withheld by the buyer",
        "net_paid": "Net paid after withholdings",
        "notes": "Notes",
        "cufe": "CUFE",
        "qr_hint": "Scan the QR code or look the document up at:",
        "representation": "Printed representation of the electronic sales invoice (factura electrónica de venta).",
        "software": "Invoicing software: {name} · Provider NIT {nit} · Software ID {software_id}",
        "page": "Page {page} of {pages}",
        "phone": "Phone",
    },
}

DOCUMENT_TYPES = {
    "es": {"11": "R.C.", "12": "T.I.", "13": "C.C.", "21": "T.E.", "22": "C.E.", "31": "NIT",
           "41": "Pasaporte", "42": "Doc. extranjero", "50": "NIT extranjero", "91": "NUIP"},
    "en": {"11": "Birth reg.", "12": "Identity card", "13": "C.C. (ID)", "21": "Foreigner card",
           "22": "C.E. (foreign ID)", "31": "NIT", "41": "Passport", "42": "Foreign ID",
           "50": "Foreign NIT", "91": "NUIP"},
}  # fmt: skip
PAYMENT_FORMS = {"es": {"1": "Contado", "2": "Crédito"}, "en": {"1": "Cash (paid)", "2": "Credit"}}
PAYMENT_MEANS = {
    "es": {"10": "Efectivo", "42": "Consignación bancaria", "45": "Transferencia crédito bancaria",
           "47": "Transferencia bancaria", "48": "Tarjeta crédito", "49": "Tarjeta débito",
           "ZZZ": "Acuerdo mutuo", "1": "Instrumento no definido"},
    "en": {"10": "Cash", "42": "Bank deposit", "45": "Bank credit transfer", "47": "Bank transfer",
           "48": "Credit card", "49": "Debit card", "ZZZ": "Mutual agreement",
           "1": "Not defined yet"},
}  # fmt: skip


def payment_means_name(code: str, language: str) -> str:
    """A DIAN payment means code's name: ours above in ``language`` ("es" or "en") for the codes
    the invoices use, else DIAN's own (Spanish) name from its MediosPago list; empty if unknown."""
    return PAYMENT_MEANS.get(language, PAYMENT_MEANS["es"]).get(code) or _dian_payment_means().get(
        code, ""
    )


@functools.cache
def _dian_payment_means() -> dict[str, str]:
    return codelist("MediosPago")


FISCAL_RESPONSIBILITIES = {
    "es": {"O-13": "Gran contribuyente", "O-15": "Autorretenedor", "O-23": "Agente de retención IVA",
           "O-47": "Régimen simple de tributación", "R-99-PN": "No aplica"},
    "en": {"O-13": "Large taxpayer", "O-15": "Self-withholder", "O-23": "IVA withholding agent",
           "O-47": "Simple tax regime", "R-99-PN": "Not applicable"},
}  # fmt: skip

#: What a credit or debit note prints instead of the invoice's titles (``pdf._note_labels``).
NOTE_LEGAL_TITLES = {"91": "Nota crédito electrónica", "92": "Nota débito electrónica"}
NOTE_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "es": {
        "91": {
            "title": "NOTA CRÉDITO ELECTRÓNICA",
            "details": "DATOS DE LA NOTA CRÉDITO",
            "representation": "Representación gráfica de la nota crédito electrónica.",
        },
        "92": {
            "title": "NOTA DÉBITO ELECTRÓNICA",
            "details": "DATOS DE LA NOTA DÉBITO",
            "representation": "Representación gráfica de la nota débito electrónica.",
        },
        "common": {
            "cufe": "CUDE",
            "payable": "TOTAL DE LA NOTA",
            "notes": "Concepto y motivo",
            "reference": (
                "Corrige la factura electrónica de venta {number} del {date} · CUFE {cufe}"
            ),
            "invoice": "Factura que corrige",
            "concept": "Concepto DIAN",
        },
    },
    "en": {
        "91": {
            "title": "ELECTRONIC CREDIT NOTE",
            "details": "CREDIT NOTE DETAILS",
            "representation": "Printed representation of the electronic credit note.",
        },
        "92": {
            "title": "ELECTRONIC DEBIT NOTE",
            "details": "DEBIT NOTE DETAILS",
            "representation": "Printed representation of the electronic debit note.",
        },
        "common": {
            "cufe": "CUDE",
            "payable": "NOTE TOTAL",
            "notes": "Concept and reason",
            "reference": "Corrects electronic sales invoice {number} of {date} · CUFE {cufe}",
            "invoice": "Invoice corrected",
            "concept": "DIAN concept",
        },
    },
}
#: DIAN's concept names (Anexo 1.9 tables 13.2.4 and 13.2.5, ``dian-webservice.md`` §4.1).
NOTE_CONCEPTS = {
    "91": {
        "1": "Devolución parcial de los bienes y/o no aceptación parcial del servicio",
        "2": "Anulación de factura electrónica",
        "3": "Rebaja o descuento parcial o total",
        "4": "Ajuste de precio",
        "5": "Descuento comercial por pronto pago",
        "6": "Descuento comercial por volumen de ventas",
    },
    "92": {"1": "Intereses", "2": "Gastos por cobrar", "3": "Cambio del valor", "4": "Otros"},
}
