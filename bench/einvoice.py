"""E-invoice throughput: signed XML and PDF per second, and the whole path through DIAN's simulator.

    .venv/bin/python bench/einvoice.py [--n 300] [--pdf-n 100]
    .venv/bin/python bench/einvoice.py --e2e 100,300 [--web-workers 2] [--worker-threads 2]

Targets on a 2-core machine: at least 200 signed XML per second, at least 50 PDF per second.
The PDF figure includes the QR; the first PDF (loading the fonts) is a warm-up, not timed.

``--e2e N1,N2``: the worker path end to end, over HTTP, on SQLite. For each N, a throwaway
``VAR_DIR`` is migrated, a real server is started (gunicorn, ``--web-workers`` processes of 4
threads, with the local DIAN simulator on: ``DIAN_SANDBOX=1``) and a fresh process pays N orders
(not timed: each issues an invoice with its number and CUFE), then does what the worker does for
each, with ``--worker-threads`` threads: sign, build the AttachedDocument, render the PDF, send it
to the simulator with SendBillSync, take DIAN's ApplicationResponse into a re-signed
AttachedDocument, queue the email with its ZIP and PDF, and deliver it (Django's dummy email
backend). It prints documents validated and delivered per second, the worker process's peak RSS
and the server's, for each N (flat in N: nothing is kept per document). Target: >= 100/s.

The raw baseline is the same N signed documents sent to the same server with SendBillSync by a
bare loop (one kept connection per thread, no database, no rendering): what the simulator alone
allows. The ratio says how much of that our side keeps; the rest is our own work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientarea.settings")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="ca-bench-"))
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")

import django

django.setup()

from clientarea.einvoice import pdf, qr, signing, ubl  # noqa: E402
from clientarea.einvoice.documents import InvoiceDocument, Line, Party, Resolution  # noqa: E402
from clientarea.lib.nit import check_digit  # noqa: E402


def document(number: int, issue: dt.datetime | None = None) -> InvoiceDocument:
    supplier = Party(
        person_type="juridica",
        document_type="31",
        document_number="800123456",
        check_digit=check_digit("800123456"),
        legal_name="Conexcol Comunicaciones S.A.S.",
        trade_name="Conexcol",
        email="f@conexcol.example",
        phone="6044445566",
        address_line="Carrera 43A # 1-50",
        municipality_code="05001",
        municipality_name="Medellín",
        department_code="05",
        department_name="Antioquia",
        fiscal_responsibilities=("O-13", "O-23"),
        tax_scheme="01",
    )
    customer = Party(
        person_type="natural",
        document_type="13",
        document_number="1017234567",
        legal_name="Ana María Restrepo",
        first_name="Ana María",
        last_name="Restrepo",
        email="ana@cliente.example",
        phone="3104567890",
        address_line="Calle 50 # 45-20",
        municipality_code="11001",
        municipality_name="Bogotá, D.C.",
        department_code="11",
        department_name="Bogotá",
    )
    lines = (
        Line.build(
            description="Hosting Pyme · ana.co (renovación)",
            quantity=Decimal("1"),
            unit_price=Decimal("480000"),
            period_start=dt.date(2026, 12, 1),
            period_end=dt.date(2027, 12, 1),
        ),
        Line.build(
            description="Dominio .co · ana.co", quantity=Decimal("1"), unit_price=Decimal("95000")
        ),
        Line.build(
            description="Certificado SSL",
            quantity=Decimal("1"),
            unit_price=Decimal("150000"),
            tax_treatment="exempt",
            tax_rate=Decimal("0"),
        ),
    )
    resolution = Resolution(
        number="18760000001",
        prefix="SETP",
        range_from=990000000,
        range_to=995000000,
        valid_from=dt.date(2019, 1, 19),
        valid_to=dt.date(2030, 1, 19),
        technical_key="fc8eac422eba16e22ffd8c6f94b3f40a6e38162c",
        environment="2",
    )
    issue = issue or dt.datetime(2026, 11, 24, 10, 30, tzinfo=ZoneInfo("America/Bogota"))
    return InvoiceDocument(
        number=990000000 + number,
        resolution=resolution,
        issue=issue,
        due=issue.date(),
        supplier=supplier,
        customer=customer,
        lines=lines,
        payment_means_code="48",
        order_reference=f"ODS-{number:06d}",
        software_id="56f2ae4e-9812-4fad-9255-08fcfcd5ccb0",
        software_pin="12345",
        software_provider_nit="800123456",
        software_provider_dv=check_digit("800123456"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="signed XML documents")
    parser.add_argument("--pdf-n", type=int, default=100, help="PDF documents")
    parser.add_argument("--e2e", default="", help="N1,N2: the whole path through the simulator")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (--e2e)")
    parser.add_argument("--worker-threads", type=int, default=2, help="worker threads (--e2e)")
    parser.add_argument("--profile", action="store_true", help="cProfile the worker path (--e2e)")
    parser.add_argument("--e2e-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.e2e_child:
        from bench import einvoice_e2e

        einvoice_e2e.child(args)
        return
    if args.e2e:
        from bench import einvoice_e2e

        einvoice_e2e.parent(args)
        return
    cert_path = Path(os.environ["VAR_DIR"]) / "bench.p12"
    signing.create_demo_certificate(cert_path, "bench", "Bench")
    key, cert = signing.load_pkcs12(cert_path, "bench")
    docs = [document(i) for i in range(max(args.n, args.pdf_n))]
    signing.sign_invoice(ubl.build_invoice_xml(docs[0]), key, cert)  # warm-up (schemas, imports)

    start, cpu = time.perf_counter(), time.process_time()
    for doc in docs[: args.n]:
        signing.sign_invoice(ubl.build_invoice_xml(doc), key, cert)
    xml_secs, xml_cpu = time.perf_counter() - start, time.process_time() - cpu

    cufes = [ubl.invoice_cufe(ubl.build_invoice_xml(doc)) for doc in docs[: args.pdf_n]]
    pdf.render_invoice_pdf(docs[0], cufes[0], qr.qr_text(docs[0], cufes[0]))  # warm-up (fonts)
    start, cpu = time.perf_counter(), time.process_time()
    for doc, cufe in zip(docs[: args.pdf_n], cufes, strict=True):
        pdf.render_invoice_pdf(doc, cufe, qr.qr_text(doc, cufe), language="es")
    pdf_secs, pdf_cpu = time.perf_counter() - start, time.process_time() - cpu

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # CPU time (all threads of the process) next to the wall clock: on a shared, loaded
    # machine it says what one free core would do.
    print(
        f"signed XML (build + CUFE + XAdES): {args.n} in {xml_secs:.2f} s = {args.n / xml_secs:.0f} per second"
        f" (CPU {xml_cpu / args.n * 1000:.1f} ms each = {args.n / xml_cpu:.0f} per CPU-second)"
    )
    print(
        f"PDF (with QR):                     {args.pdf_n} in {pdf_secs:.2f} s = {args.pdf_n / pdf_secs:.0f} per second"
        f" (CPU {pdf_cpu / args.pdf_n * 1000:.1f} ms each = {args.pdf_n / pdf_cpu:.0f} per CPU-second)"
    )
    print(f"peak RSS: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
