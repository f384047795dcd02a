"""E-invoice throughput: signed XML, PDF and whole documents delivered per CPU-second, and the whole path through DIAN's simulator.

    .venv/bin/python bench/einvoice.py [--n 200] [--pdf-n 60] [--docs-n 60] [--profile FILE]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientarea REDIS_URL=redis://127.0.0.1:6379/15 \
        .venv/bin/python bench/einvoice.py
    .venv/bin/python bench/einvoice.py --e2e 100,300 [--web-workers 2] [--worker-threads 2] [--worker-processes 1] [--steps]
    .venv/bin/python bench/einvoice.py --e2e 60 --worker-type process [--worker-threads 2]

Default mode, three figures, each as CPU time per item (the machine is shared: CPU time says what
one free core would do) next to the wall clock:

- signed XML: build the invoice XML, its CUFE, the XAdES signature;
- PDF: the Typst layout with the QR (the first PDF, loading the fonts, is a warm-up, not timed),
  twice: the invoices above (they differ in number, date, order and CUFE, the lines are the same)
  and varied ones (the customer, 2 to 5 lines and their amounts differ too): Typst reuses the
  layout of what two invoices share, so the second figure is the one for real invoices;
- documents delivered: the worker's whole path per paid invoice, in a throwaway database (SQLite;
  PostgreSQL with ``DATABASE_URL=postgres://…``, a fresh database dropped at the end; Huey in
  Redis with ``REDIS_URL``): ``render_and_send_invoice`` (sign, AttachedDocument, PDF, store-only
  transmission, the invoice email with its ZIP and PDF queued) and the email's delivery (Django's
  dummy backend). N orders are paid beforehand, not timed.

The raw baseline, same run: lxml serializing the same invoice XML plus one bare RSA-SHA256
signature of its bytes (``cryptography``) and its deflate: the least a signed, zipped document
costs without any of our code. The last line is one JSON object (figure: documents delivered
per CPU-second; the baseline; their ratio; the XML and PDF figures; peak RSS; load average).
Target (issue 18): documents delivered (PDF + signed XML + email) >= 150/s per core.

``--e2e N1,N2``: the worker path end to end, over HTTP, on SQLite. For each N, a throwaway
``VAR_DIR`` is migrated, a real server is started (gunicorn, ``--web-workers`` processes of 4
threads, with the local DIAN simulator on: ``DIAN_SANDBOX=1``) and a fresh process pays N orders
(not timed: each issues an invoice with its number and CUFE), then does what the worker does for
each, with ``--worker-threads`` threads: sign, build the AttachedDocument, render the PDF, send it
to the simulator with SendBillSync, take DIAN's ApplicationResponse into the signed
AttachedDocument, queue the email with its ZIP and PDF, and deliver it (Django's dummy email
backend). It prints documents validated and delivered per second, the worker's CPU per document
and the simulator's (its gunicorn processes', read from ``/proc`` around the same stretch), the
worker process's peak RSS and the server's, for each N (flat in N: nothing is kept per
document). Target: >= 100/s.
The worker is one process with 2 threads, as ``clientarea run`` starts it on SQLite (one Huey
consumer, ``WORKER_THREADS=2``); ``--worker-processes P`` forks P such processes after the orders
are paid (Huey's SQLite queue hands each task to one consumer, and the invoice leases keep two
processes off one invoice), their CPU summed and the largest one's peak RSS shown. Each worker
process starts cold, as a freshly started worker does: its first document also pays the imports,
the key, the fonts and the schemas (≈ 0.1–0.2 s of CPU per process, spread over N).
``--worker-type thread|process`` runs a real ``clientarea worker`` instead (a Huey consumer with
``WORKER_TYPE`` and ``WORKER_THREADS=--worker-threads``), started once the orders are paid: it
takes every job the payments queued (the invoices and their emails, and also the payment emails
and provisioning events) until each invoice is accepted and emailed; its start-up is in the wall
clock and its CPU (the consumer and the processes it forks) in the CPU per document.

``--e2e … --steps`` also prints, for the worker path called directly, the CPU of each of its steps
per document (each wrapped with ``time.thread_time``, so the other thread and the server are not
counted; nested steps count in their parents too; how many calls per document beside it, e.g.
how often a new connection to the simulator was opened). The wrapping adds a little.

The raw baseline of ``--e2e`` is the same N signed documents sent to the same server with
SendBillSync by a bare loop (one kept connection per thread, no database, no rendering): what
the simulator alone allows with as many requests in flight as the worker has threads; the
server's CPU per document is printed beside it. The ratio says how much of that our side keeps.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import os
import sys
import tempfile
import time
import zlib
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_STACK = contextlib.ExitStack()
DB = None
if __name__ == "__main__" and not any(a.startswith("--e2e") for a in sys.argv):
    # The default mode's own throwaway database (SQLite, or PostgreSQL from DATABASE_URL).
    from benchdb import throwaway_database

    DB = _STACK.enter_context(throwaway_database("ca-bench-doc-"))
    os.environ["VAR_DIR"] = DB.tmp
    os.environ["DATABASE_URL"] = DB.url
    os.environ["EINVOICE_TRANSMITTER"] = "clientarea.einvoice.transmission.StoreOnlyTransmitter"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("PAYMENTS_SANDBOX", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if os.environ.get("REDIS_URL"):
        os.environ["HUEY_NAME"] = f"ca-bench-{os.getpid()}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientarea.settings")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="ca-bench-"))
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")

import django  # noqa: E402 - after the environment above

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


def varied_document(number: int) -> InvoiceDocument:
    """``document(number)`` with its own customer name and address, and 2 to 5 lines of its own."""
    doc = document(number)
    lines = tuple(
        Line.build(
            description=f"Servicio {number}-{k} · plan {'ABCDE'[k % 5]} dominio{number}.co",
            quantity=Decimal(1 + (number + k) % 3),
            unit_price=Decimal(10000 + 137 * number + 991 * k),
            tax_treatment="exempt" if k % 3 == 2 else "taxed",
            tax_rate=Decimal("0") if k % 3 == 2 else Decimal("19"),
            period_start=dt.date(2026, 1 + k % 12, 1) if k % 2 == 0 else None,
            period_end=dt.date(2027, 1 + k % 12, 1) if k % 2 == 0 else None,
        )
        for k in range(2 + number % 4)
    )
    customer = dataclasses.replace(
        doc.customer,
        legal_name=f"Cliente {number} S.A.S.",
        address_line=f"Calle {number % 120} # {number % 90}-{number % 50}",
    )
    return dataclasses.replace(doc, lines=lines, customer=customer)


def pdf_cpu_seconds(docs: list[InvoiceDocument]) -> tuple[float, float]:
    """Wall and CPU seconds for the PDFs of ``docs`` (the first one rendered before, untimed)."""
    cufes = [ubl.invoice_cufe(ubl.build_invoice_xml(doc)) for doc in docs]
    pdf.render_invoice_pdf(docs[0], cufes[0], qr.qr_text(docs[0], cufes[0]))  # warm-up (fonts)
    start, cpu = time.perf_counter(), time.process_time()
    for doc, cufe in zip(docs, cufes, strict=True):
        pdf.render_invoice_pdf(doc, cufe, qr.qr_text(doc, cufe), language="es")
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="signed XML documents")
    parser.add_argument("--pdf-n", type=int, default=60, help="PDF documents")
    parser.add_argument("--docs-n", type=int, default=60, help="documents delivered (worker path)")
    parser.add_argument("--profile", default="", help="cProfile the documents delivered to FILE")
    parser.add_argument("--e2e", default="", help="N1,N2: the whole path through the simulator")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (--e2e)")
    parser.add_argument("--worker-threads", type=int, default=2, help="worker threads (--e2e)")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=1,
        help="worker processes (--e2e; 1, as `clientarea run` on SQLite; no --profile above 1)",
    )
    parser.add_argument(
        "--worker-type",
        choices=("", "thread", "process"),
        default="",
        help="--e2e through a real `clientarea worker` (Huey consumer) of this WORKER_TYPE with "
        "--worker-threads workers, instead of the worker path called directly "
        "(--worker-processes is then ignored)",
    )
    parser.add_argument(
        "--steps",
        action="store_true",
        help="--e2e: time the worker's steps (thread CPU per document; the wrapping adds a little)",
    )
    parser.add_argument("--e2e-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.e2e_child:
        from bench import einvoice_e2e

        einvoice_e2e.child(args)
        return
    if args.e2e:
        from bench import einvoice_e2e

        einvoice_e2e.parent(args)
        return
    try:
        documents(args)
    finally:
        _STACK.close()


def raw_baseline(docs: list[InvoiceDocument], key) -> float:
    """CPU seconds per document: lxml serialization + one bare RSA-SHA256 signature + deflate."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    roots = [ubl.build_invoice_xml(doc) for doc in docs]  # built beforehand: not our cost here
    cpu = time.process_time()
    for root in roots:
        data = ubl.to_bytes(root)
        key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        zlib.compress(data)
    return (time.process_time() - cpu) / len(roots)


def delivered(n: int, profile: str) -> tuple[float, float]:
    """Pay n orders (not timed), then the worker's path per invoice; (wall, CPU) seconds."""
    from django.core.management import call_command

    from bench.einvoice_e2e import _prepare
    from clientarea.einvoice import delivery
    from clientarea.einvoice.models import Invoice
    from clientarea.notifications import delivery as mail
    from clientarea.notifications.models import OutgoingEmail

    call_command("migrate", verbosity=0, interactive=False)
    ids = _prepare(n + 1)
    delivery.render_and_send_invoice(invoice_id=ids.pop(0))  # warm-up: fonts, templates, key
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not the neighbours
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    for invoice_id in ids:
        delivery.render_and_send_invoice(invoice_id=invoice_id)
        for email_id in OutgoingEmail.objects.filter(
            template="invoice_issued", status="queued"
        ).values_list("id", flat=True):
            mail.deliver_email(email_id=email_id)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        import pstats

        profiler.disable()
        profiler.dump_stats(profile)
        stats = pstats.Stats(profile, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats("clientarea", 40)
        stats.sort_stats("tottime").print_stats(25)
    done = Invoice.objects.filter(pk__in=ids, emailed_at__isnull=False).count()
    sent = OutgoingEmail.objects.filter(template="invoice_issued", status="sent").count()
    if done != n or sent != n + 1:
        raise SystemExit(f"only {done} of {n} invoices emailed, {sent} emails sent")
    return wall, cpu


def documents(args: argparse.Namespace) -> None:
    from benchdb import emit
    from django.conf import settings

    kind = "postgresql" if settings.IS_POSTGRES else "sqlite"
    cert_path = Path(os.environ["VAR_DIR"]) / "bench.p12"
    signing.create_demo_certificate(cert_path, "bench", "Bench")
    key, cert = signing.load_pkcs12(cert_path, "bench")
    docs = [document(i) for i in range(max(args.n, args.pdf_n))]
    signing.sign_invoice(ubl.build_invoice_xml(docs[0]), key, cert)  # warm-up (schemas, imports)

    start, cpu = time.perf_counter(), time.process_time()
    for doc in docs[: args.n]:
        signing.sign_invoice(ubl.build_invoice_xml(doc), key, cert)
    xml_secs, xml_cpu = time.perf_counter() - start, time.process_time() - cpu

    pdf_secs, pdf_cpu = pdf_cpu_seconds(docs[: args.pdf_n])
    varied = [varied_document(1000 + i) for i in range(args.pdf_n)]
    varied_secs, varied_cpu = pdf_cpu_seconds(varied)

    raw_cpu = raw_baseline(docs[: args.n], key)
    docs_wall, docs_cpu = delivered(args.docs_n, args.profile)
    per_cpu_second = args.docs_n / docs_cpu
    baseline = 1 / raw_cpu
    print(
        f"signed XML (build + CUFE + XAdES): {args.n} in {xml_secs:.2f} s = {args.n / xml_secs:.0f} per second"
        f" (CPU {xml_cpu / args.n * 1000:.1f} ms each = {args.n / xml_cpu:.0f} per CPU-second)"
    )
    print(
        f"PDF (with QR):                     {args.pdf_n} in {pdf_secs:.2f} s = {args.pdf_n / pdf_secs:.0f} per second"
        f" (CPU {pdf_cpu / args.pdf_n * 1000:.1f} ms each = {args.pdf_n / pdf_cpu:.0f} per CPU-second)"
    )
    print(
        f"PDF, varied invoices:              {args.pdf_n} in {varied_secs:.2f} s = {args.pdf_n / varied_secs:.0f} per second"
        f" (CPU {varied_cpu / args.pdf_n * 1000:.1f} ms each = {args.pdf_n / varied_cpu:.0f} per CPU-second)"
    )
    print(
        f"documents delivered ({kind}; sign, AttachedDocument, PDF, email queued and sent): "
        f"{args.docs_n} in {docs_wall:.2f} s (CPU {docs_cpu / args.docs_n * 1000:.1f} ms each = "
        f"{per_cpu_second:.0f} per CPU-second)"
    )
    print(
        f"raw baseline (lxml serialization + one RSA-SHA256 signature + deflate): CPU "
        f"{raw_cpu * 1000:.2f} ms each = {baseline:.0f} per CPU-second; ratio {per_cpu_second / baseline:.4f}"
    )
    if os.environ.get("REDIS_URL"):
        from huey.contrib.djhuey import HUEY

        HUEY.flush()
    emit(
        "documents",
        figure=round(per_cpu_second, 1),
        unit="documents delivered per CPU-second",
        baseline=round(baseline, 1),
        ratio=round(per_cpu_second / baseline, 4),
        db=kind,
        cpu_ms_per_item=round(docs_cpu / args.docs_n * 1000, 2),
        wall_per_s=round(args.docs_n / docs_wall, 1),
        signed_xml_cpu_ms=round(xml_cpu / args.n * 1000, 2),
        pdf_cpu_ms=round(pdf_cpu / args.pdf_n * 1000, 2),
        pdf_varied_cpu_ms=round(varied_cpu / args.pdf_n * 1000, 2),
        n=args.docs_n,
    )


if __name__ == "__main__":
    main()
