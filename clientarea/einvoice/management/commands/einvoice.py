"""`clientarea einvoice validate FILE.xml [--technical-key K] [--software-pin PIN]`,
`clientarea einvoice show NUMBER` (invoices, credit notes and debit notes),
`clientarea einvoice numbering-import` and `clientarea einvoice habilitacion --test-set-id ID`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clientarea.einvoice import cufe, validation
from clientarea.einvoice.management import habilitacion_commands
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.pdf_labels import payment_means_name


class Command(BaseCommand):
    help = (
        "Validate an invoice or credit/debit note XML against the UBL 2.1 + DIAN schemas (and its "
        "CUFE/CUDE), or show an issued invoice or note."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        validate = sub.add_parser(
            "validate",
            help="Validate an Invoice, CreditNote, DebitNote or AttachedDocument XML file.",
        )
        validate.add_argument("file")
        validate.add_argument(
            "--technical-key",
            default="",
            help="ClTec: recompute an invoice's CUFE from the document's own fields.",
        )
        validate.add_argument(
            "--software-pin",
            default="",
            help="Software PIN: recompute a credit or debit note's CUDE from its own fields.",
        )
        show = sub.add_parser("show", help="Print the key fields of an issued invoice.")
        show.add_argument("number")
        habilitacion_commands.add_parsers(sub)

    def handle(self, *args, **opts):
        if opts["action"] in habilitacion_commands.ACTIONS:
            return habilitacion_commands.handle(self, opts)
        if opts["action"] == "validate":
            return self.validate(opts["file"], opts["technical_key"], opts["software_pin"])
        return self.show(opts["number"])

    def validate(self, file: str, technical_key: str, software_pin: str = "") -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        data = path.read_bytes()
        try:
            root_tag = validation._parse(data).tag
        except validation.NotAnInvoice as exc:
            raise CommandError(f"{file}: not valid XML: {exc}") from exc
        try:
            if root_tag.endswith("}AttachedDocument"):
                errors = validation.validate_attached_document(data)
                invoice_xml = validation.embedded_invoice(data)
                self.stdout.write("AttachedDocument: wraps a document")
            else:
                errors = validation.validate_invoice(data)
                invoice_xml = data
        except validation.NotAnInvoice as exc:
            raise CommandError(f"{file}: {exc}") from exc
        if errors:
            for error in errors:
                self.stderr.write(f"  {error}")
            raise CommandError(f"{file}: INVALID ({len(errors)} schema error(s))")
        kind = validation._parse(invoice_xml).tag.rpartition("}")[2]
        self.stdout.write(
            self.style.SUCCESS(f"{file}: valid against UBL 2.1 {kind} + DIAN extensions")
        )
        declared = cufe.declared_cufe(invoice_xml)
        note = cufe.is_note(invoice_xml)
        name, secret, option = (
            ("CUDE", software_pin, "--software-pin")
            if note
            else ("CUFE", technical_key, "--technical-key")
        )
        if secret:
            try:
                computed = cufe.cufe_from_xml(invoice_xml, secret)
            except cufe.CufeInputError as exc:
                raise CommandError(f"{name} cannot be recomputed: {exc}") from exc
            if computed != declared:
                raise CommandError(
                    f"{name} MISMATCH: document says {declared}, its fields give {computed}"
                )
            self.stdout.write(
                self.style.SUCCESS(f"{name} matches the document's fields: {declared}")
            )
        else:
            self.stdout.write(f"{name} (not recomputed; give {option}): {declared}")

    def show(self, number: str) -> None:
        invoice = (
            Invoice.objects.select_related("order", "customer__user", "resolution", "reference")
            .filter(full_number=number)
            .first()
        )
        if invoice is None:
            raise CommandError(f"no invoice numbered {number}")
        doc = invoice.document
        resolution = invoice.resolution
        resolution_text = (
            f"{resolution.number} ({resolution.prefix}{resolution.range_from}–{resolution.range_to})"
            if resolution
            else "—"
        )
        rows = [
            ("Number", invoice.full_number),
            ("Status", invoice.get_status_display()),
            ("Document", invoice.get_kind_display()),
            ("Order", invoice.order.number if invoice.order else "—"),
            ("Corrects", invoice.reference.full_number if invoice.reference else "—"),
            ("Concept", f"{invoice.concept} {invoice.reason}" if invoice.is_note else "—"),
            ("Issued", invoice.issued_at.isoformat() if invoice.issued_at else ""),
            ("Customer", f"{invoice.customer.display_name} <{invoice.customer.user.email}>"),
            (
                "Buyer document",
                f"{doc['customer']['document_type']} {doc['customer']['document_number']}",
            ),
            ("Resolution", resolution_text),
            ("Total", str(invoice.total)),
            (
                "Payment means",
                f"{invoice.payment_means_code} "
                f"{payment_means_name(invoice.payment_means_code, 'en')}".strip(),
            ),
            ("CUDE" if invoice.is_note else "CUFE", invoice.cufe),
            ("Rendered", invoice.rendered_at.isoformat() if invoice.rendered_at else "no"),
            ("Emailed", invoice.emailed_at.isoformat() if invoice.emailed_at else "no"),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.stdout.write(f"{key:<{width}}  {value}")
