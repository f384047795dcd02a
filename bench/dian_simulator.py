"""The DIAN simulator's own CPU per SendBillSync, in-process, next to a raw baseline.

    .venv/bin/python bench/dian_simulator.py [--n 300] [--debug] [--steps] [--profile FILE]

A throwaway database (SQLite; PostgreSQL with ``DATABASE_URL=postgres://…``, a fresh database
dropped at the end), the simulator on (``DIAN_SANDBOX=1``) and seeded by its migration. N signed
invoices are built beforehand (not timed) with the product's builder and signer, each zipped and
wrapped in a signed SendBillSync request by the product's DIAN client, as the worker sends them.
Each request is then POSTed to the simulator's URL through Django's test client (the whole
middleware stack, the URL resolver, the view, every check, the signed ApplicationResponse, the
row it records), and ``time.process_time`` is read around each request. Every answer must be
"00" (accepted): the figure is the accepted path, the one the worker's documents take.

``--debug`` runs with ``DEBUG=1`` (``make run`` and ``einvoice --e2e``'s server have it on: the
query log). ``--steps`` wraps the simulator's steps (WS-Security, unzip, schema, XAdES, the
CUFE, numbering, signing the answer, each read) with ``time.process_time`` and prints the mean
per request (the wrapping adds a little). ``--profile FILE`` writes a cProfile of the timed loop,
timed in CPU time.

Raw baseline, same requests: lxml parsing the envelope, base64 + unzip of the document, lxml
parsing it, UBL 2.1 schema validation (the simulator's own schema files) and one bare RSA-SHA256
verification and one RSA-SHA256 signature (``cryptography``) over the document's bytes: the
least a request costs that parses, validates, verifies one signature and signs an answer.
The last line is one JSON object: ``figure`` is the simulator's median CPU ms per request,
``baseline`` the raw median, ``ratio`` baseline / figure.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import os
import statistics
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdb
import dianrequests

URL = "/sandbox/dian/WcfDianCustomerServices.svc"
TO = "https://testserver" + URL


def _environment(db: benchdb.Database, debug: bool) -> None:
    os.environ.update(
        VAR_DIR=db.tmp,
        DATABASE_URL=db.url,
        DJANGO_SETTINGS_MODULE="clientarea.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-not-a-secret"),
        DEBUG="1" if debug else "0",
        PAYMENTS_SANDBOX="1",
        DIAN_SANDBOX="1",
        LOG_LEVEL="WARNING",
        AXES_ENABLED="0",
        RATELIMIT_ENABLE="0",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
    )


def _requests(n: int) -> tuple[list[bytes], list[bytes], object, object]:
    """N signed SendBillSync requests (and the signed invoices in them), built by the product's
    client as the worker builds them; numbers from 990_200_000 on, issued now."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from clientarea.einvoice import signing

    cert_path = Path(os.environ["VAR_DIR"]) / "bench.p12"
    signing.create_demo_certificate(cert_path, "bench", "Bench")
    key, cert = signing.load_pkcs12(cert_path, "bench")
    now = dt.datetime.now(ZoneInfo("America/Bogota")).replace(microsecond=0)
    bodies, invoices = dianrequests.signed_requests(
        n=n, first=200_000, url=TO, key=key, cert=cert, issue=now
    )
    return bodies, invoices, key, cert


def _post(client, body: bytes) -> bytes:
    response = client.generic(
        "POST", URL, body, content_type=dianrequests.content_type(),
        secure=True,  # with DEBUG off the site redirects http to https
    )  # fmt: skip
    if response.status_code != 200 or b"<b:StatusCode>00</b:StatusCode>" not in response.content:
        raise SystemExit(f"not accepted: {response.status_code} {response.content[:2000]!r}")
    return response.content


#: The simulator's steps, wrapped by --steps: (label, module, function). A name a version of
#: the simulator does not have is skipped.
STEPS = [
    ("WS-Security (envelope.read)", "envelope", "read"),
    ("unzip", "services", "unzip"),
    ("document parse", "services", "parse"),
    ("document facts", "services", "facts"),
    ("schema", "checks", "schema_errors"),
    ("XAdES verification", "checks", "signature_findings"),
    ("CUFE (key findings)", "checks", "_key_findings"),
    ("numbering", "checks", "_numbering_findings"),
    ("dates", "checks", "_date_findings"),
    ("totals", "checks", "_total_findings"),
    ("ApplicationResponse build", "appresponse", "build"),
    ("ApplicationResponse sign", "appresponse", "sign"),
    ("read: settings", "selectors", "simulator_settings"),
    ("read: software", "selectors", "software"),
    ("read: duplicate", "selectors", "accepted"),
    ("read: faults", "faults", "armed_kinds"),
    ("read: signing identity", "services", "signing_identity"),
    ("read: the stamp (and on a change, everything)", "selectors", "known"),
    ("record", "services", "_record"),
    ("answer envelope", "soap", "dian_response"),
    ("SendBillSync (all of it after WS-Security)", "views", "_dispatch"),
]


def _wrap_steps() -> dict[str, list[float]]:
    import functools
    import importlib

    spent: dict[str, list[float]] = {}
    for label, module_name, name in STEPS:
        module = importlib.import_module(f"clientarea.einvoice.sandbox.{module_name}")
        original = getattr(module, name, None)
        if original is None:
            continue
        times = spent.setdefault(label, [])

        def timed(*args, _original=original, _times=times, **kwargs):
            started = time.process_time()
            try:
                return _original(*args, **kwargs)
            finally:
                _times.append(time.process_time() - started)

        setattr(module, name, functools.wraps(original)(timed))
    return spent


def _raw(invoices: list[bytes], bodies: list[bytes], key, cert) -> list[float]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from lxml import etree

    schema_dir = benchdb.ROOT / "clientarea/einvoice/schemas/ubl21/maindoc"
    schema = etree.XMLSchema(etree.parse(str(schema_dir / "UBL-Invoice-2.1.xsd")))
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    public = cert.public_key()
    signatures = [key.sign(x, padding.PKCS1v15(), hashes.SHA256()) for x in invoices]
    times = []
    for body, signature in zip(bodies, signatures, strict=True):
        started = time.process_time()
        env = etree.fromstring(body, parser)
        content = env.findtext(".//{http://wcf.dian.colombia}contentFile")
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(content))) as archive:
            xml = archive.read(archive.namelist()[0])
        root = etree.fromstring(xml, parser)
        assert schema.validate(root)
        public.verify(signature, xml, padding.PKCS1v15(), hashes.SHA256())
        key.sign(xml, padding.PKCS1v15(), hashes.SHA256())
        times.append(time.process_time() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--debug", action="store_true", help="DEBUG=1 (the query log on)")
    parser.add_argument("--steps", action="store_true", help="time each step of the simulator")
    parser.add_argument("--profile", default="", help="write a cProfile (CPU time) to FILE")
    args = parser.parse_args()
    with benchdb.throwaway_database("ca-bench-dian-") as db:
        _environment(db, args.debug)
        (Path(db.tmp) / "static").mkdir()
        kind = benchdb.setup_django()
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        warm = 3
        bodies, invoices, key, cert = _requests(args.n + warm)
        client = Client()
        for body in bodies[:warm]:  # imports, schemas, the simulator's key: not per request
            _post(client, body)
        bodies, invoices = bodies[warm:], invoices[warm:]
        steps = _wrap_steps() if args.steps else {}
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)
        times: list[float] = []
        with contextlib.ExitStack():
            for body in bodies:
                if profiler is not None:
                    profiler.enable()
                started = time.process_time()
                _post(client, body)
                times.append(time.process_time() - started)
                if profiler is not None:
                    profiler.disable()
        raw = _raw(invoices, bodies, key, cert)
        if profiler is not None:
            profiler.dump_stats(args.profile)
        from clientarea.einvoice.sandbox.models import ReceivedDocument

        accepted = ReceivedDocument.objects.filter(is_valid=True).count()
        if accepted != args.n + warm:
            raise SystemExit(f"{accepted} accepted, expected {args.n + warm}")
        ms = [t * 1000 for t in times]
        raw_ms = [t * 1000 for t in raw]
        median, raw_median = statistics.median(ms), statistics.median(raw_ms)
        print(
            f"DIAN simulator, SendBillSync in-process ({kind}, DEBUG={int(args.debug)}), "
            f"{args.n} accepted invoices: median {median:.2f} ms CPU per request "
            f"(mean {statistics.fmean(ms):.2f}, p10 {statistics.quantiles(ms, n=10)[0]:.2f}, "
            f"p90 {statistics.quantiles(ms, n=10)[-1]:.2f}); raw median {raw_median:.2f} ms"
        )
        for label, values in steps.items():
            if values:
                print(f"  {label:45s} {sum(values) / args.n * 1000:6.2f} ms per request")
        benchdb.emit(
            "dian_simulator",
            figure=median,
            unit="ms CPU per SendBillSync (simulator, in-process, median)",
            baseline=raw_median,
            ratio=raw_median / median,
            db=kind,
            cpu_ms_per_item=round(statistics.fmean(ms), 3),
            debug=args.debug,
            n=args.n,
        )


if __name__ == "__main__":
    main()
