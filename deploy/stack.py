"""Start ClientArea's production configuration on this machine, and stop it.

Used by ``deploy/smoke.py`` (CI) and ``loadtest/run.py``. What it starts is what the deployment
guide installs, read from the shipped files rather than copied:

- the environment of ``deploy/clientarea.env.example`` (``DEBUG=0``, ``BEHIND_PROXY=1``,
  ``PROXY_COUNT=1``, JSON logs, the metrics token), with this run's addresses and secrets;
- a fresh PostgreSQL database and a Redis database of its own (flushed at start and stop);
- ``clientarea check --deploy``, ``migrate``, ``collectstatic``, then the demo data;
- the web exactly as ``deploy/systemd/clientarea-web.service`` starts it (gunicorn, 2 processes,
  the multi-process metrics folder), and N workers as ``clientarea-worker@.service`` does;
- Caddy with the site block of ``deploy/caddy/clientarea-site.caddy``, on ``https://localhost``
  with Caddy's own local CA (``tls internal``) instead of Let's Encrypt. Every process trusts that
  CA (``SSL_CERT_FILE``), so the gateway simulators' notifications and the DIAN simulator's
  requests travel over HTTPS through the proxy, as the real gateways' would.

The gateway and DIAN simulators are switched on explicitly (``PAYMENTS_SANDBOX=1``): this is a
test of the production configuration, not a production configuration.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
BIN = Path(sys.executable).parent

#: What `check --deploy` must report on this machine, and why; anything else fails the run. None of
#: Django's security checks is here: with DEBUG=0 and the guide's settings they all pass.
ACCEPTED_CHECKS = {
    # The simulators are switched on for the test, on purpose (a real site never runs them).
    "payments.E010": "PAYMENTS_SANDBOX=1: the smoke test pays through the local PayU simulator",
    # There are no real gateway accounts or DIAN software registration on a test machine.
    "payments.W011": "PayU in test mode (no PayU account here)",
    "payments.W012": "PayU's public sandbox credentials (no PayU account here)",
    "payments.W013": "Payvalida in test mode (no Payvalida account here)",
    "payments.W014": "Payvalida's demo hashes (no Payvalida account here)",
    "einvoice.E005": "the self-signed demo signing certificate (no ONAC certificate here)",
    "einvoice.E006": "DIAN's test software id and PIN (the DIAN simulator knows them)",
    "einvoice.W007": "the demo's numbering resolution is DIAN's test set",
}


class StackError(RuntimeError):
    pass


@dataclass
class Stack:
    workdir: Path
    env: dict[str, str]
    base_url: str
    http_url: str
    web_port: int
    ca_file: Path
    metrics_token: str
    database_url: str
    redis_url: str
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def clientarea(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run a `clientarea` command in this stack's environment (fails loudly)."""
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "clientarea.cli", *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(
                f"clientarea {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        print(f"   clientarea {args[0]}: {time.monotonic() - started:.0f} s", flush=True)
        return result

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def start_worker(self, name: str) -> subprocess.Popen:
        """One more worker, as ``clientarea-worker@.service`` starts it."""
        command = unit_command(DEPLOY / "systemd" / "clientarea-worker@.service")
        return self._spawn(name, command)

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def _spawn(self, name: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.log(name), "ab")  # noqa: SIM115 (open for the process's lifetime)
        proc = subprocess.Popen(
            command, env=env or self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs[name] = proc
        return proc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def unit_lines(path: Path, key: str) -> list[str]:
    """The values of ``key=`` in a systemd unit, continuation lines joined."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    prefix = f"{key}="
    return [line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)]


def unit_command(path: Path, *, port: int | None = None) -> list[str]:
    """The unit's ExecStart, with the installed virtualenv replaced by this interpreter's."""
    (exec_start,) = unit_lines(path, "ExecStart")
    words = shlex.split(exec_start)
    command = []
    for word in words:
        if word.startswith("/opt/clientarea/.venv/bin/"):
            word = str(BIN / word.rsplit("/", 1)[1])
        if port and word == "127.0.0.1:8000":
            word = f"127.0.0.1:{port}"
        command.append(word)
    return command


def reset_database(database_url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise StackError(f"unexpected database name {name!r}")
    maintenance = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    maintenance = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def wait_for(url: str, context: ssl.SSLContext | None, *, seconds: float, proc_check) -> None:
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        proc_check()
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.5)
    raise StackError(f"{url} did not answer 200 within {seconds:.0f} s (last: {last})")


def check_deploy(stack: Stack) -> list[str]:
    """`clientarea check --deploy`: any warning not in ACCEPTED_CHECKS fails; returns those seen."""
    result = subprocess.run(
        [sys.executable, "-m", "clientarea.cli", "check", "--deploy"],
        env=stack.env,
        cwd=stack.workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    seen = sorted(set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", output)))
    unexpected = [check for check in seen if check not in ACCEPTED_CHECKS]
    if unexpected or (result.returncode != 0 and not seen):
        raise StackError(f"check --deploy: unexpected {unexpected}\n{output[-4000:]}")
    return seen


def caddy_config(stack: Stack, *, https_port: int, http_port: int) -> Path:
    path = stack.workdir / "Caddyfile"
    path.write_text(
        "{\n"
        "\tadmin off\n"
        "\tlocal_certs\n"
        "\tskip_install_trust\n"
        f"\thttp_port {http_port}\n"
        f"\thttps_port {https_port}\n"
        "}\n"
        f"localhost:{https_port} {{\n"
        f"\timport {DEPLOY / 'caddy' / 'clientarea-site.caddy'}\n"
        "}\n",
        encoding="utf-8",
    )
    return path


def start(
    *,
    workdir: Path,
    database_url: str,
    redis_url: str,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    caddy = shutil.which("caddy")
    if not caddy:
        raise StackError("caddy is not installed (Debian: apt-get install caddy)")
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "var", "prometheus", "caddy-data", "caddy-config"):
        (workdir / sub).mkdir(exist_ok=True)
    https_port, http_port, web_port = free_port(), free_port(), free_port()
    base_url = f"https://localhost:{https_port}"
    metrics_token = secrets.token_urlsafe(24)
    ca_file = workdir / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    bundle = workdir / "ca-bundle.pem"

    web_unit = DEPLOY / "systemd" / "clientarea-web.service"
    env = {
        key: value for key, value in os.environ.items() if key in {"PATH", "LANG", "LC_ALL", "TZ"}
    }
    # This checkout's code, whatever the virtualenv has installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(read_env_file(DEPLOY / "clientarea.env.example"))
    for assignment in unit_lines(web_unit, "Environment"):
        key, value = assignment.split("=", 1)
        env[key] = value
    for key in [k for k in env if k.endswith("_FILE")]:
        del env[key]  # the example points at /etc/clientarea/...: this run passes values
    env.update(
        SITE_URL=base_url,
        ALLOWED_HOSTS="localhost",
        VAR_DIR=str(workdir / "var"),
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        HUEY_NAME=f"clientarea-stack-{https_port}",
        EINVOICE_CERT_PATH=str(workdir / "var" / "certs" / "demo-signing.p12"),
        EINVOICE_CERT_PASSWORD=secrets.token_urlsafe(12),
        METRICS_TOKEN=metrics_token,
        PROMETHEUS_MULTIPROC_DIR=str(workdir / "prometheus"),
        # For the test only: the simulators, reachable through the proxy with Caddy's local CA.
        PAYMENTS_SANDBOX="1",
        DIAN_SANDBOX="1",
        SSL_CERT_FILE=str(bundle),
        HOME=str(workdir),
    )
    env.update(extra_env or {})
    stack = Stack(
        workdir=workdir,
        env=env,
        base_url=base_url,
        http_url=f"http://localhost:{http_port}",
        web_port=web_port,
        ca_file=ca_file,
        metrics_token=metrics_token,
        database_url=database_url,
        redis_url=redis_url,
    )
    try:
        reset_database(database_url)
        flush_redis(redis_url)
        caddy_env = {
            "PATH": env["PATH"],
            "HOME": str(workdir),
            "XDG_DATA_HOME": str(workdir / "caddy-data"),
            "XDG_CONFIG_HOME": str(workdir / "caddy-config"),
            "CLIENTAREA_UPSTREAM": f"127.0.0.1:{web_port}",
            "CLIENTAREA_ACCESS_LOG": str(stack.log("caddy-access")),
        }
        config = caddy_config(stack, https_port=https_port, http_port=http_port)
        stack._spawn(
            "caddy", [caddy, "run", "--config", str(config), "--adapter", "caddyfile"], caddy_env
        )
        deadline = time.monotonic() + 30
        while not ca_file.exists():
            ensure_running(stack)
            if time.monotonic() > deadline:
                raise StackError("Caddy made no local CA within 30 s")
            time.sleep(0.2)
        system_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        bundle.write_bytes(
            (system_bundle.read_bytes() if system_bundle.exists() else b"") + ca_file.read_bytes()
        )

        stack.clientarea("migrate", "--noinput")
        stack.clientarea("demo-data")  # also writes the self-signed demo signing certificate
        check_deploy(stack)
        stack.clientarea("collectstatic", "--noinput", "--verbosity", "0")
        stack._spawn("web", unit_command(web_unit, port=web_port))
        for i in range(1, workers + 1):
            stack.start_worker(f"worker-{i}")
        wait_for(
            f"{base_url}/healthz/ready",
            stack.ssl_context(),
            seconds=90,
            proc_check=lambda: ensure_running(stack),
        )
    except BaseException:
        stop(stack, keep=True)
        raise
    return stack


def ensure_running(stack: Stack) -> None:
    for name, proc in stack.procs.items():
        if proc.poll() is not None:
            tail = stack.log(name).read_text(errors="replace")[-3000:]
            raise StackError(f"{name} exited with {proc.returncode}:\n{tail}")


def stop(stack: Stack, *, keep: bool = False) -> None:
    """Stop every process (workers first, then web, then the proxy); drop the database unless
    ``keep`` (to look at it after a failure)."""
    order = sorted(stack.procs, key=lambda n: (not n.startswith("worker"), n == "caddy"))
    for name in order:
        stack.stop_process(name)
    if not keep:
        with contextlib.suppress(Exception):
            drop_database(stack.database_url)
        with contextlib.suppress(Exception):
            flush_redis(stack.redis_url)
