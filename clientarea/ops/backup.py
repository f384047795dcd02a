"""Backups that restore: the database and the files that matter, in one verifiable archive.

One ``clientarea-backup-<UTC time>.tar.gz`` holds:

- ``manifest.json``: when, which database vendor, the Django migrations applied, the row count
  of every table, and the size and SHA-256 of every other file in the archive;
- ``database/clientarea.sqlite3`` (SQLite's online backup API: a consistent copy while the site
  runs in WAL mode) or ``database/clientarea.pgdump`` (``pg_dump --format=custom``, taken in the
  same snapshot as the row counts);
- ``files/var/...``: ``VAR_DIR``'s ``certs/`` (the DIAN signing certificate, itself encrypted by
  its password) and ``local.env``; ``files/media/...``: ``MEDIA_ROOT`` (uploads);
  ``files/einvoice-cert/<name>``: the signing certificate when it lives outside ``VAR_DIR``.
  Signed invoices (XML, AttachedDocument, PDF) are stored in the database, so they are in it;
- ``secrets/`` only when asked (``include_secrets``): ``var/secret_key`` and ``secrets.env``
  (``SECRET_KEY``, ``EINVOICE_CERT_PASSWORD``). Without it the archive holds no key or password.

Left out on purpose: the task queue (``huey.sqlite3``; unfinished work is in the database's
outboxes and is picked up again by the worker's sweeps), collected static files (rebuilt by
``collectstatic``) and earlier backups.

A restore checks everything before it changes anything: the archive reads, every file matches
its SHA-256, the vendor is this database's, no migration is unknown to this code, and the
database is empty (unless forced). Then it restores the database (PostgreSQL: ``pg_restore`` in
one transaction), the files, and compares every table's row count with the manifest.

Why one file: writing and reading the archive are two halves of one format (names, manifest,
checksums, the database dump per vendor); kept side by side so they cannot drift apart. The seam
for a later split is ``create_backup`` above ``CheckedArchive`` and ``restore_backup`` below it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.lib import sitecache

FORMAT_VERSION = 1
ARCHIVE_PREFIX = "clientarea-backup-"
ARCHIVE_SUFFIX = ".tar.gz"
ARCHIVE_NAME = re.compile(r"clientarea-backup-\d{8}T\d{6}Z(-\d+)?\.tar\.gz")
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/clientarea.sqlite3"
POSTGRES_MEMBER = "database/clientarea.pgdump"
SECRET_KEY_MEMBER = "secrets/secret_key"  # noqa: S105 (a path in the archive, not a password)
SECRETS_ENV_MEMBER = "secrets/secrets.env"
# Tables that `migrate` fills by itself: rows there do not make a database "non-empty".
MIGRATE_FILLS = {"django_content_type", "auth_permission"}
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    tables: int
    rows: int
    files: int
    secrets_included: bool
    removed: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class RestoreResult:
    created_at: str
    vendor: str
    tables: int
    files: int
    mismatched: dict[str, tuple[int, int]]  # table: (in the archive, after restore)
    notes: list[str]

    @property
    def verified(self) -> bool:
        return not self.mismatched


# --- Helpers -----------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _roots() -> dict[str, Path]:
    """Where each ``files/<root>/`` part of an archive lives on this machine."""
    return {"var": Path(settings.VAR_DIR), "media": Path(settings.MEDIA_ROOT)}


def _cert_path() -> Path:
    return Path(settings.EINVOICE_CERT_PATH)


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _walk(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path


def files_to_keep() -> dict[str, Path]:
    """Archive member name → file on disk, for the files that matter (see the module's doc)."""
    roots = _roots()
    var, media = roots["var"], roots["media"]
    chosen: dict[str, Path] = {}
    for path in _walk(var / "certs"):
        chosen[f"files/var/{path.relative_to(var).as_posix()}"] = path
    if (var / "local.env").is_file():
        chosen["files/var/local.env"] = var / "local.env"
    for path in _walk(media):
        chosen[f"files/media/{path.relative_to(media).as_posix()}"] = path
    cert = _cert_path()
    if cert.is_file() and not _is_within(cert, var / "certs"):
        chosen[f"files/einvoice-cert/{cert.name}"] = cert
    return chosen


def _secrets_env() -> str:
    lines = [
        "# Secrets kept by `clientarea backup --include-secrets`. Give them back to the service's",
        "# environment (or *_FILE secrets); do not leave this file lying around.",
        f"SECRET_KEY={settings.SECRET_KEY}",
        f"EINVOICE_CERT_PASSWORD={settings.EINVOICE_CERT_PASSWORD}",
    ]
    return "\n".join(lines) + "\n"


def _table_counts(cursor, tables: list[str], quote) -> dict[str, int]:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 (names from the catalog, quoted)
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _migrations(cursor) -> dict[str, list[str]]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    state: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        state.setdefault(app, []).append(name)
    return state


# --- Database dumps ------------------------------------------------------------------------------


def _sqlite_dump(destination: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """SQLite's online backup API from our connection (consistent, also while the site writes),
    then counts and migrations read from the copy itself: the manifest describes the very bytes
    in the archive."""
    connection.ensure_connection()
    target = sqlite3.connect(destination)
    try:
        connection.connection.backup(target)
        cursor = target.cursor()
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        counts = _table_counts(cursor, tables, lambda name: '"' + name.replace('"', '""') + '"')
        migrations = _migrations(cursor)
    finally:
        target.close()
    return counts, migrations


def _pg_environment() -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump / pg_restore from settings.DATABASES (the password in the
    environment, never on the command line)."""
    db = settings.DATABASES["default"]
    args = [f"--dbname={db['NAME']}", "--no-password"]
    if db.get("HOST"):
        args.append(f"--host={db['HOST']}")
    if db.get("PORT"):
        args.append(f"--port={db['PORT']}")
    if db.get("USER"):
        args.append(f"--username={db['USER']}")
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return args, env


def pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            _(
                "%(tool)s was not found on PATH. Install the PostgreSQL client of the server's "
                "major version (Debian: postgresql-client-NN) or put its bin directory first on "
                "PATH (e.g. /usr/lib/postgresql/NN/bin)."
            )
            % {"tool": name}
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (fixed tool, our arguments)
    if done.returncode != 0:
        tool = Path(command[0]).name
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(
            _("%(tool)s failed: %(detail)s")
            % {"tool": tool, "detail": " / ".join(detail[-5:]) or done.returncode}
        )


def _postgres_dump(destination: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """pg_dump in the snapshot our own transaction exported: the counts and migration state in
    the manifest are those of the dump, even while the site keeps writing."""
    pg_dump = pg_tool("pg_dump")
    args, env = _pg_environment()
    with connection.cursor() as cursor:  # connect (and health-check) before the transaction
        cursor.execute("SELECT 1")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        tables = connection.introspection.table_names(cursor)
        counts = _table_counts(cursor, tables, connection.ops.quote_name)
        migrations = _migrations(cursor)
        _run(
            [pg_dump, *args, "--format=custom", f"--snapshot={snapshot}", f"--file={destination}"],
            env,
        )
    return counts, migrations


# --- Backup ------------------------------------------------------------------------------------


def _archive_path(output_dir: Path, now: dt.datetime) -> Path:
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = output_dir / f"{ARCHIVE_PREFIX}{stamp}{ARCHIVE_SUFFIX}"
    n = 1
    while path.exists():
        n += 1
        path = output_dir / f"{ARCHIVE_PREFIX}{stamp}-{n}{ARCHIVE_SUFFIX}"
    return path


def prune(*, output_dir: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest archives in ``output_dir`` (only files named like ours)."""
    archives = sorted(
        (p for p in output_dir.iterdir() if p.is_file() and ARCHIVE_NAME.fullmatch(p.name)),
        key=lambda p: (p.stat().st_mtime, p.name),
    )
    doomed = archives[: max(len(archives) - keep, 0)]
    for path in doomed:
        path.unlink()
    return doomed


def create_backup(
    *, output_dir: Path, include_secrets: bool = False, keep: int | None = None
) -> BackupResult:
    """Write one archive into ``output_dir`` (created with mode 0700 if missing) and return what
    it holds.

    The archive appears only once complete (written under a temporary name, then renamed), with
    mode 0600: it holds every customer's data.
    """
    if not output_dir.is_dir():
        output_dir.mkdir(mode=0o700, parents=True)
    now = timezone.now()
    vendor = connection.vendor
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(
            _("Backups support SQLite and PostgreSQL, not %(vendor)s.") % {"vendor": vendor}
        )
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".backup-") as work:
        staging = Path(work) / "staging"
        (staging / "database").mkdir(parents=True)
        if vendor == "sqlite":
            db_member = SQLITE_MEMBER
            counts, migrations = _sqlite_dump(staging / db_member)
        else:
            db_member = POSTGRES_MEMBER
            counts, migrations = _postgres_dump(staging / db_member)
        # Files are copied first and hashed from the copies: what is hashed is what is archived.
        members = {db_member: staging / db_member}
        for member, source in files_to_keep().items():
            copy = staging / member
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
            members[member] = copy
        if include_secrets:
            (staging / "secrets").mkdir()
            key_file = Path(settings.VAR_DIR) / "secret_key"
            if key_file.is_file():
                shutil.copy2(key_file, staging / SECRET_KEY_MEMBER)
                members[SECRET_KEY_MEMBER] = staging / SECRET_KEY_MEMBER
            (staging / SECRETS_ENV_MEMBER).write_text(_secrets_env(), encoding="utf-8")
            members[SECRETS_ENV_MEMBER] = staging / SECRETS_ENV_MEMBER
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": now.isoformat(),
            "database": {
                "vendor": vendor,
                "file": db_member,
                "migrations": migrations,
                "tables": counts,
            },
            "files": {
                member: {"sha256": sha256_of(path), "size": path.stat().st_size}
                for member, path in sorted(members.items())
            },
            "secrets_included": include_secrets,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        final = _archive_path(output_dir, now)
        partial = Path(work) / "archive.partial"
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(staging / MANIFEST, arcname=MANIFEST)
            for member, path in sorted(members.items()):
                archive.add(path, arcname=member)
        partial.chmod(0o600)
        os.replace(partial, final)
    removed = prune(output_dir=output_dir, keep=keep) if keep else []
    return BackupResult(
        path=final,
        size=final.stat().st_size,
        tables=len(counts),
        rows=sum(counts.values()),
        files=len(members) - 1,
        secrets_included=include_secrets,
        removed=removed,
    )


# --- Restore -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedArchive:
    folder: Path
    manifest: dict


def _unpack(archive: Path, folder: Path) -> None:
    if not archive.is_file():
        raise BackupError(_("%(archive)s: no such file.") % {"archive": archive})
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                if not (member.isfile() or member.isdir()):
                    raise BackupError(
                        _(
                            "%(archive)s holds %(member)s, which is not a plain file: not an "
                            "archive made by `clientarea backup`. Nothing was restored."
                        )
                        % {"archive": archive.name, "member": member.name}
                    )
            tar.extractall(folder, filter="data")
    except BackupError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BackupError(
            _(
                "%(archive)s cannot be read (%(error)s): the archive is damaged or incomplete. "
                "Nothing was restored."
            )
            % {"archive": archive.name, "error": exc}
        ) from exc


def check_archive(archive: Path, folder: Path) -> CheckedArchive:
    """Unpack ``archive`` into ``folder`` and check it against its manifest. Changes nothing else."""
    _unpack(archive, folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        database = manifest["database"]
        vendor, db_member, tables = database["vendor"], database["file"], database["tables"]
        migrations = database["migrations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupError(
            _(
                "%(archive)s has no readable manifest (%(error)s): not an archive made by "
                "`clientarea backup`, or a damaged one. Nothing was restored."
            )
            % {"archive": archive.name, "error": exc}
        ) from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(
            _(
                "%(archive)s is in backup format %(format)s; this version reads format "
                "%(expected)s. Nothing was restored."
            )
            % {
                "archive": archive.name,
                "format": manifest.get("format"),
                "expected": FORMAT_VERSION,
            }
        )
    if not isinstance(files, dict) or not isinstance(tables, dict) or db_member not in files:
        raise BackupError(
            _("%(archive)s: the manifest is incomplete. Nothing was restored.")
            % {"archive": archive.name}
        )
    found = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
    found.discard(MANIFEST)
    if found != set(files):
        missing, extra = sorted(set(files) - found), sorted(found - set(files))
        raise BackupError(
            _(
                "%(archive)s does not match its manifest (missing: %(missing)s; not listed: "
                "%(extra)s). Nothing was restored."
            )
            % {
                "archive": archive.name,
                "missing": ", ".join(missing) or "-",
                "extra": ", ".join(extra) or "-",
            }
        )
    for member, expected in sorted(files.items()):
        path = folder / member
        if path.stat().st_size != expected.get("size") or sha256_of(path) != expected.get("sha256"):
            raise BackupError(
                _(
                    "%(archive)s: %(member)s does not match its SHA-256 in the manifest: the "
                    "archive is damaged or was altered. Nothing was restored."
                )
                % {"archive": archive.name, "member": member}
            )
    if vendor != connection.vendor:
        raise BackupError(
            _(
                "%(archive)s is a %(vendor)s backup and this database is %(current)s. Restore "
                "it into a database of the same kind. Nothing was restored."
            )
            % {"archive": archive.name, "vendor": vendor, "current": connection.vendor}
        )
    unknown = _unknown_migrations(migrations)
    if unknown:
        raise BackupError(
            _(
                "%(archive)s was made by a newer version of ClientArea (migrations this code "
                "does not have: %(migrations)s). Install that version first. Nothing was "
                "restored."
            )
            % {"archive": archive.name, "migrations": ", ".join(unknown[:5])}
        )
    return CheckedArchive(folder=folder, manifest=manifest)


def _unknown_migrations(state: dict[str, list[str]]) -> list[str]:
    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    installed = {config.label for config in apps.get_app_configs()}
    return sorted(
        f"{app}.{name}"
        for app, names in state.items()
        if app in installed
        for name in names
        if (app, name) not in on_disk
    )


def current_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        return _table_counts(cursor, tables, connection.ops.quote_name)


def business_rows() -> dict[str, int]:
    """Rows in this database's model tables, beyond what `migrate` writes by itself."""
    existing = set(connection.introspection.table_names())
    model_tables = {
        model._meta.db_table for model in apps.get_models(include_auto_created=True)
    } - MIGRATE_FILLS
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(model_tables & existing):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            n = int(cursor.fetchone()[0])
            if n:
                counts[table] = n
    return counts


def _sqlite_restore(source: Path) -> None:
    connection.ensure_connection()
    origin = sqlite3.connect(source)
    try:
        origin.backup(connection.connection)
    except sqlite3.Error as exc:
        raise BackupError(
            _(
                "The database could not be replaced (%(error)s). Stop the web and worker "
                "processes and try again."
            )
            % {"error": exc}
        ) from exc
    finally:
        origin.close()
    connection.close()


def _postgres_restore(source: Path, *, has_tables: bool) -> None:
    pg_restore = pg_tool("pg_restore")
    args, env = _pg_environment()
    command = [pg_restore, *args, "--no-owner", "--no-privileges", "--single-transaction"]
    command += ["--exit-on-error"]
    if has_tables:
        command += ["--clean", "--if-exists"]
    connection.close()  # our own connection must not hold locks on what pg_restore drops
    _run([*command, str(source)], env)


def _restore_files(checked: CheckedArchive) -> tuple[int, list[str]]:
    roots = _roots()
    restored, notes = 0, []
    for member in sorted(checked.manifest["files"]):
        parts = member.split("/")
        if parts[0] != "files" or len(parts) < 3:
            continue
        if parts[1] == "einvoice-cert":
            target = _cert_path()
        elif parts[1] in roots:
            root = roots[parts[1]]
            target = root.joinpath(*parts[2:])
            if not _is_within(target, root):
                continue
        else:
            notes.append(_("%(member)s: unknown place, not restored") % {"member": member})
            continue
        _put(checked.folder / member, target)
        restored += 1
    return restored, notes


def _put(source: Path, target: Path, *, mode: int | None = None) -> None:
    """Copy into place atomically (a temporary file in the same folder, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.restoring")
    shutil.copy2(source, temporary)
    if mode is not None:
        temporary.chmod(mode)
    os.replace(temporary, target)


def _restore_secrets(checked: CheckedArchive) -> list[str]:
    files = checked.manifest["files"]
    notes = []
    var = Path(settings.VAR_DIR)
    if SECRET_KEY_MEMBER in files:
        key_file = var / "secret_key"
        source = checked.folder / SECRET_KEY_MEMBER
        if key_file.is_file() and key_file.read_bytes() != source.read_bytes():
            notes.append(
                _("%(path)s exists and differs from the archive's: kept the existing one")
                % {"path": key_file}
            )
        else:
            _put(source, key_file, mode=0o600)
            notes.append(_("Secret key restored to %(path)s.") % {"path": key_file})
    if SECRETS_ENV_MEMBER in files:
        target = var / "restored-secrets.env"
        _put(checked.folder / SECRETS_ENV_MEMBER, target, mode=0o600)
        notes.append(
            _(
                "SECRET_KEY and EINVOICE_CERT_PASSWORD written to %(path)s: move them into the "
                "service's environment and delete that file."
            )
            % {"path": target}
        )
    return notes


@contextmanager
def _workspace() -> Iterator[Path]:
    var = Path(settings.VAR_DIR)
    var.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=var, prefix=".restore-") as folder:
        Path(folder).chmod(0o700)
        yield Path(folder)


def restore_backup(*, archive: Path, force: bool = False) -> RestoreResult:
    """Restore ``archive`` into this database and these folders (see the module's doc).

    Refuses (BackupError, nothing changed) a damaged or altered archive, another vendor's, a newer
    code's, and, unless ``force``, a database that already holds data. Stop the web and the
    worker first.
    """
    with _workspace() as folder:
        checked = check_archive(archive, folder)
        occupied = business_rows()
        if occupied and not force:
            sample = ", ".join(f"{table} ({n})" for table, n in list(occupied.items())[:3])
            raise BackupError(
                _(
                    "This database already holds data (%(tables)s...). Restoring would replace "
                    "it: use --force to do so, or restore into an empty database. Nothing was "
                    "restored."
                )
                % {"tables": sample}
            )
        database = checked.manifest["database"]
        source = folder / database["file"]
        if connection.vendor == "sqlite":
            _sqlite_restore(source)
        else:
            _postgres_restore(source, has_tables=bool(connection.introspection.table_names()))
        files, notes = _restore_files(checked)
        notes += _restore_secrets(checked)
    # Pages keep the provider and the help links in memory under a shared version: a process
    # left running through the restore reads them again instead of showing the replaced rows.
    sitecache.changed()
    after = current_counts()
    mismatched = {
        table: (expected, after.get(table, -1))
        for table, expected in database["tables"].items()
        if after.get(table, -1) != expected
    }
    return RestoreResult(
        created_at=checked.manifest["created_at"],
        vendor=database["vendor"],
        tables=len(database["tables"]),
        files=files,
        mismatched=mismatched,
        notes=notes,
    )
