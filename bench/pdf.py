"""The invoice PDF alone: CPU per PDF, where it goes, and whether two threads render at once.

    .venv/bin/python bench/pdf.py [--n 30] [--no-threads]

No database. Three figures, each in CPU time per PDF (the machine is shared):

- the invoices of ``bench/einvoice.py`` (they differ in number, date, order and CUFE; their
  lines are the same) and varied ones (the customer, 2 to 5 lines and amounts differ too);
- where the time of a varied PDF goes: the QR (zxing-cpp's encoder, then our SVG path of it,
  ``clientarea.lib.qr``) and the rest (the texts, and Typst's compile);
- threads: the varied PDFs rendered by one thread, then by two at once: CPU time over wall time
  above 1 means both threads compiled at the same time (Typst's compile releases the GIL: the
  binding runs it in pyo3's ``Python::detach``; the texts and the QR, in Python, do not). Near 1
  on a busy machine says nothing: there was no second core to use.

``--n 0`` renders only the warm-up PDFs: under ``valgrind --tool=callgrind`` the difference
between ``--n 20`` and ``--n 0`` (with ``--no-threads``) is a count of instructions per PDF that
does not depend on the neighbours' load. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from einvoice import document, varied_document  # bench/einvoice.py sets Django up

from clientarea.einvoice import pdf, qr, ubl
from clientarea.lib.qr import qr_matrix, qr_svg


def jobs(docs: list) -> list[tuple]:
    return [(doc, cufe, qr.qr_text(doc, cufe)) for doc in docs for cufe in [ubl.invoice_cufe(ubl.build_invoice_xml(doc))]]  # fmt: skip


def cpu_ms(work, items) -> float:
    if not items:
        return 0.0
    cpu = time.process_time()
    for item in items:
        work(item)
    return (time.process_time() - cpu) / len(items) * 1000


def threads_figures(items: list[tuple], threads: int) -> tuple[float, float]:
    """Wall ms per PDF and CPU/wall for ``items`` rendered by ``threads`` threads at once."""
    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda job: pdf.render_invoice_pdf(*job), items))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall / len(items) * 1000, cpu / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=30, help="PDFs of each kind")
    parser.add_argument("--no-threads", action="store_true", help="skip the threads check")
    args = parser.parse_args()

    same = jobs([document(i) for i in range(args.n + 1)])
    varied = jobs([varied_document(1000 + i) for i in range(args.n + 1)])
    pdf.render_invoice_pdf(*same[-1])  # warm-up (fonts), not timed
    pdf.render_invoice_pdf(*varied[-1])
    result = {
        "pdf_cpu_ms": cpu_ms(lambda job: pdf.render_invoice_pdf(*job), same[: args.n]),
        "pdf_varied_cpu_ms": cpu_ms(lambda job: pdf.render_invoice_pdf(*job), varied[: args.n]),
        "qr_encoder_cpu_ms": cpu_ms(lambda job: qr_matrix(job[2]), varied[: args.n]),
        "qr_svg_cpu_ms": cpu_ms(
            lambda job: qr_svg(job[2], quiet_zone=pdf.QR_QUIET_ZONE), varied[: args.n]
        ),
    }
    result["rest_cpu_ms"] = result["pdf_varied_cpu_ms"] - result["qr_svg_cpu_ms"]
    print(f"PDF, bench/einvoice.py's invoices: CPU {result['pdf_cpu_ms']:.1f} ms each")
    print(f"PDF, varied invoices:              CPU {result['pdf_varied_cpu_ms']:.1f} ms each")
    print(
        f"  of which the QR {result['qr_svg_cpu_ms']:.1f} ms (encoder {result['qr_encoder_cpu_ms']:.1f} ms,"
        f" SVG path {result['qr_svg_cpu_ms'] - result['qr_encoder_cpu_ms']:.1f} ms),"
        f" the texts and Typst's compile {result['rest_cpu_ms']:.1f} ms"
    )
    if args.n and not args.no_threads:
        with ThreadPoolExecutor(2) as pool:  # each thread's compiler, warmed up
            list(pool.map(lambda job: pdf.render_invoice_pdf(*job), varied[-2:]))
        for threads in (1, 2):
            wall_ms, ratio = threads_figures(varied[: args.n], threads)
            result.update(
                {f"wall_ms_{threads}_threads": wall_ms, f"cpu_per_wall_{threads}_threads": ratio}
            )
            print(f"{threads} thread(s): wall {wall_ms:.1f} ms per PDF, CPU/wall {ratio:.2f}")
    result = {key: round(value, 2) for key, value in result.items()}
    print(json.dumps({"bench": "pdf", **result, "loadavg": os.getloadavg()}))


if __name__ == "__main__":
    main()
