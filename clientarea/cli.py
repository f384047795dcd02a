"""The `clientarea` command: Django's management commands plus our own.

clientarea init-local     create var/secret_key and var/local.env (SITE_URL, PORT) once; `make run` runs it
clientarea run            web (gunicorn) + worker, like `make run`
clientarea worker         the task worker only
clientarea demo-data      load the demo data (idempotent)
clientarea billing-run    the daily billing run
clientarea <any manage.py command>

Every command first reads ``$VAR_DIR/local.env`` (``KEY=value`` lines written by `init-local`):
its values are defaults, the environment wins. So `make run` and a command started later from
another shell share one SITE_URL, the base of every link in emails.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from django.core.management import execute_from_command_line

ALIASES = {
    "run": "serve",
    "worker": "run_huey",
    "demo-data": "demo_data",
    "billing-run": "billing_run",
    "reconcile-payments": "reconcile_payments",
    "twofactor-reset": "twofactor_reset",
}

LOCAL_ENV = "local.env"
DEFAULT_PORT = 8000

# `clientarea`, `clientarea help` and `clientarea --help` print these first: Django's list that
# follows names them by their Django names (billing_run, demo_data, serve...) and has no
# init-local, run or worker, so a newcomer could not find the commands the README uses.
OWN_COMMANDS = """\
ClientArea's commands (README: "Commands"):
  clientarea init-local [--port N]   the local secret key and var/local.env, once (make run runs it)
  clientarea run                     web + worker (what make run starts)
  clientarea worker                  the task worker only
  clientarea demo-data               load the demo data (idempotent)
  clientarea show_demo_logins        print the demo logins again
  clientarea billing-run [--date YYYY-MM-DD] [--dry-run]   the daily billing run
  clientarea reconcile-payments      ask the gateways about payments still open
  clientarea twofactor-reset EMAIL   turn off a user's two-factor login (lost phone)
  clientarea einvoice ...            invoices and notes: validate, show, numbering-import, habilitacion
  clientarea dian_sandbox_seed       DIAN's test values into the DIAN simulator (when it is on)
  clientarea backup [--output DIR]   database, certificates and uploads in one archive
  clientarea restore ARCHIVE         check a backup, then restore it
  clientarea help COMMAND            a command's options

Every Django management command works too:
"""


def var_dir() -> Path:
    """The same folder as ``settings.VAR_DIR`` (computed without importing the settings)."""
    return Path(os.environ.get("VAR_DIR") or Path(__file__).resolve().parent.parent / "var")


def read_local_env(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; blank lines and ``#`` comments are skipped."""
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def load_local_env() -> None:
    """Defaults from var/local.env for this process and its children; the environment wins."""
    for key, value in read_local_env(var_dir() / LOCAL_ENV).items():
        os.environ.setdefault(key, value)


def init_local(argv: list[str]) -> int:
    """Prepare a local (development/demo) run. Safe to repeat: it keeps what exists.

    - ``var/secret_key``: a random signing key, created once (mode 0600), read by the settings
      when ``DEBUG=1`` and ``SECRET_KEY`` is not set;
    - ``var/local.env``: ``PORT`` and ``SITE_URL``, written on the first run, and rewritten only
      when ``--port`` or ``--site-url`` asks for different values.
    """
    parser = argparse.ArgumentParser(prog="clientarea init-local", description=init_local.__doc__)
    parser.add_argument(
        "--port", type=int, help=f"port of `clientarea run` (first run: {DEFAULT_PORT})"
    )
    parser.add_argument("--site-url", help="public base URL (default: http://127.0.0.1:<port>)")
    args = parser.parse_args(argv)
    folder = var_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "secret_key"
    if not key_path.exists():
        key_path.touch(mode=0o600)
        key_path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        sys.stdout.write(f"Created the local secret key: {key_path}\n")
    env_path = folder / LOCAL_ENV
    current = read_local_env(env_path)
    port = args.port or int(current.get("PORT") or DEFAULT_PORT)
    site_url = (args.site_url or "").rstrip("/")
    if not site_url:
        site_url = current.get("SITE_URL", "") if not args.port else ""
        site_url = site_url or f"http://127.0.0.1:{port}"
    wanted = {**current, "PORT": str(port), "SITE_URL": site_url}
    if wanted != current:
        lines = ["# Written by `clientarea init-local`; read by every `clientarea` command."]
        lines += [f"{key}={value}" for key, value in wanted.items()]
        env_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        sys.stdout.write(f"{env_path}: SITE_URL={site_url} PORT={port}\n")
    return 0


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    if len(args) > 1 and args[1] == "init-local":
        sys.exit(init_local(args[2:]))
    load_local_env()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientarea.settings")
    if len(args) == 1 or (len(args) == 2 and args[1] in ("help", "--help", "-h")):
        sys.stdout.write(OWN_COMMANDS)
    if len(args) > 1:
        args[1] = ALIASES.get(args[1], args[1])
    if len(args) > 2 and args[1] == "help":  # `clientarea help billing-run`
        args[2] = ALIASES.get(args[2], args[2])
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
