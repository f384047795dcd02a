"""The `clientarea` command: Django's management commands plus our own.

clientarea run            web (gunicorn) + worker, like `make run`
clientarea worker         the task worker only
clientarea demo-data      load the demo data (idempotent)
clientarea billing-run    the daily billing run
clientarea <any manage.py command>
"""

from __future__ import annotations

import os
import sys

ALIASES = {
    "run": "serve",
    "worker": "run_huey",
    "demo-data": "demo_data",
    "billing-run": "billing_run",
    "reconcile-payments": "reconcile_payments",
}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientarea.settings")
    args = list(sys.argv if argv is None else argv)
    if len(args) > 1:
        args[1] = ALIASES.get(args[1], args[1])
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
