"""Backups restore: backup → a fresh, empty database → restore gives every table's rows back and the
signed invoices byte for byte; damaged archives and occupied databases are refused untouched.

Runs on whichever database the suite uses: SQLite by default, PostgreSQL with DATABASE_URL
(pg_dump / pg_restore from PATH).
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone, translation

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib import sitecache
from clientarea.ops import backup
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "backup-test-signing-key-do-not-leak-0123456789"
CERT_PASSWORD = "backup-test-cert-password"


@pytest.fixture(autouse=True)
def _english():
    """The messages are matched in English; one test checks the Spanish ones."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _tables_back_for_the_next_test():
    """A test that failed between wiping and restoring must not leave the next ones without tables."""
    yield
    if not connection.introspection.table_names():
        call_command("migrate", verbosity=0)


@pytest.fixture
def site(settings, tmp_path):
    """A site with its own VAR_DIR, uploads and certificate, and a few paid, signed invoices."""
    var, media = tmp_path / "var", tmp_path / "media"
    (var / "certs").mkdir(parents=True)
    (media / "logos").mkdir(parents=True)
    (var / "secret_key").write_text(SECRET)
    (var / "local.env").write_text("SITE_URL=http://127.0.0.1:8000\n")
    (var / "huey.sqlite3").write_bytes(b"the queue is not backed up")
    (media / "logos" / "logo.png").write_bytes(bytes(range(256)) * 4)
    settings.VAR_DIR = var
    settings.MEDIA_ROOT = media
    settings.SECRET_KEY = SECRET
    settings.EINVOICE_CERT_PASSWORD = CERT_PASSWORD
    settings.EINVOICE_CERT_PATH = str(tmp_path / "elsewhere" / "signing.p12")
    make_provider()
    make_resolution()
    hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("480000"))
    for i in range(3):
        order = billing.order_new_service(
            customer=make_customer(document_number=f"10172399{i:02d}"),
            product=hosting,
            cycle="annual",
            label=f"backup{i}.co",
        )
        billing.mark_order_paid(
            order_id=order.pk, paid_at=timezone.now(), via="payu", method="card"
        )
    return tmp_path


def signed_documents() -> dict[str | None, tuple[bytes, bytes, bytes]]:
    return {
        number: (bytes(xml), bytes(attached), bytes(pdf))
        for number, xml, attached, pdf in Invoice.objects.values_list(
            "full_number", "xml_signed", "attached_document", "pdf"
        )
    }


def wipe_database() -> None:
    """Leave a fresh database: no tables at all (as on a new server before anything ran)."""
    connection.close()
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        sqlite3.connect(":memory:").backup(connection.connection)
    else:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
    connection.close()
    assert connection.introspection.table_names() == []


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: read(tar, m) for m in tar.getmembers() if m.isfile()}


def read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()


def repack(archive: Path, target: Path, change) -> Path:
    """A copy of ``archive`` with ``change(name, data) -> data`` applied to each member."""
    with tarfile.open(target, "w:gz") as out:
        for name, data in members(archive).items():
            data = change(name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return target


def test_backup_wipe_restore_gives_every_row_and_signed_document_back(site):
    documents = signed_documents()
    assert len(documents) == 3 and all(all(part for part in doc) for doc in documents.values())
    before = backup.current_counts()

    result = backup.create_backup(output_dir=site / "backups")

    assert (
        result.path.name.startswith("clientarea-backup-")
        and result.path.stat().st_mode & 0o077 == 0
    )
    manifest = json.loads(members(result.path)["manifest.json"])
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["database"]["tables"]["einvoice_invoice"] == 3
    assert "0001_initial" in manifest["database"]["migrations"]["billing"]
    assert set(manifest["files"]) >= {
        manifest["database"]["file"],
        "files/var/local.env",
        "files/media/logos/logo.png",
        "files/einvoice-cert/signing.p12",
    }
    cert_bytes = Path(site / "elsewhere" / "signing.p12").read_bytes()
    site_data_version = sitecache.version()

    wipe_database()
    shutil.rmtree(site / "media")
    (site / "elsewhere" / "signing.p12").unlink()

    restored = backup.restore_backup(archive=result.path)

    assert restored.verified, restored.mismatched
    after = backup.current_counts()
    assert {t: after[t] for t in manifest["database"]["tables"]} == manifest["database"]["tables"]
    assert {t: n for t, n in after.items() if t in before} == before
    assert signed_documents() == documents
    assert (site / "media" / "logos" / "logo.png").read_bytes() == bytes(range(256)) * 4
    assert (site / "elsewhere" / "signing.p12").read_bytes() == cert_bytes
    # a process left running shows the restored provider and help links, not what it kept
    assert sitecache.version() != site_data_version


def test_secrets_stay_out_unless_asked(site):
    plain = backup.create_backup(output_dir=site / "backups")
    contents = members(plain.path)
    assert not [name for name in contents if name.startswith("secrets/") or "secret_key" in name]
    assert "files/var/huey.sqlite3" not in contents
    for name, data in contents.items():
        assert SECRET.encode() not in data, name
        assert CERT_PASSWORD.encode() not in data, name

    with_secrets = backup.create_backup(output_dir=site / "backups", include_secrets=True)
    contents = members(with_secrets.path)
    assert contents["secrets/secret_key"] == SECRET.encode()
    assert f"EINVOICE_CERT_PASSWORD={CERT_PASSWORD}" in contents["secrets/secrets.env"].decode()


def test_restore_refuses_a_database_that_holds_data_unless_forced(site):
    result = backup.create_backup(output_dir=site / "backups")
    make_customer(document_number="1017239999")  # written after the backup
    counts = backup.current_counts()

    with pytest.raises(backup.BackupError, match="already holds data"):
        backup.restore_backup(archive=result.path)
    assert backup.current_counts() == counts

    with translation.override("es-co"), pytest.raises(CommandError) as refused:
        call_command("restore", str(result.path))
    assert refused.value.returncode == 2
    assert "Esta base de datos ya tiene datos" in str(refused.value)
    assert "use --force" in str(refused.value)

    restored = backup.restore_backup(archive=result.path, force=True)
    assert restored.verified, restored.mismatched
    assert backup.current_counts()["accounts_customer"] == counts["accounts_customer"] - 1


def test_damaged_or_altered_archives_are_refused_before_anything_changes(site):
    result = backup.create_backup(output_dir=site / "backups")
    wipe_database()
    data = result.path.read_bytes()

    truncated = site / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    flipped = site / "flipped.tar.gz"
    middle = len(data) // 2
    flipped.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    not_an_archive = site / "notes.tar.gz"
    not_an_archive.write_text("hello")
    altered = repack(
        result.path,
        site / "altered.tar.gz",
        lambda name, d: d + b"\x00" if name == "files/media/logos/logo.png" else d,
    )
    other_vendor = repack(
        result.path,
        site / "other-vendor.tar.gz",
        lambda name, d: (
            d.replace(f'"vendor": "{connection.vendor}"'.encode(), b'"vendor": "oracle"')
            if name == "manifest.json"
            else d
        ),
    )
    newer_code = repack(
        result.path,
        site / "newer.tar.gz",
        lambda name, d: (
            d.replace(b'"0001_initial"', b'"0001_initial", "9999_from_the_future"', 1)
            if name == "manifest.json"
            else d
        ),
    )
    no_manifest = repack(
        result.path,
        site / "no-manifest.tar.gz",
        lambda name, d: b"{" if name == "manifest.json" else d,
    )

    for archive, message in [
        (truncated, "cannot be read"),
        (flipped, "cannot be read|does not match"),
        (not_an_archive, "cannot be read"),
        (altered, r"logo.png does not match its SHA-256"),
        (other_vendor, "is a oracle backup"),
        (newer_code, "newer version"),
        (no_manifest, "no readable manifest"),
        (site / "missing.tar.gz", "no such file"),
    ]:
        with pytest.raises(backup.BackupError, match=message):
            backup.restore_backup(archive=archive)
        assert connection.introspection.table_names() == [], archive.name

    # The intact archive still restores (and the test database gets its tables back).
    assert backup.restore_backup(archive=result.path).verified


def test_files_are_not_touched_by_a_refused_restore(site):
    result = backup.create_backup(output_dir=site / "backups")
    (site / "media" / "logos" / "logo.png").write_bytes(b"changed since")
    altered = repack(
        result.path,
        site / "altered.tar.gz",
        lambda name, d: b"x" + d if name.startswith("database/") else d,
    )
    with pytest.raises(backup.BackupError, match="does not match its SHA-256"):
        backup.restore_backup(archive=altered, force=True)
    assert (site / "media" / "logos" / "logo.png").read_bytes() == b"changed since"


def test_backup_command_keeps_the_newest_archives(site, capsys):
    out = site / "backups"
    for _ in range(3):
        call_command("backup", "--output", str(out), "--keep", "2")
    printed = capsys.readouterr().out
    archives = sorted(p.name for p in out.iterdir())
    assert len(archives) == 2 and all(backup.ARCHIVE_NAME.fullmatch(n) for n in archives)
    assert "clientarea-backup-" in printed
    newest = max(out.iterdir(), key=lambda p: p.stat().st_mtime).name
    (out / "unrelated.txt").write_text("not ours")
    backup.prune(output_dir=out, keep=1)
    assert sorted(p.name for p in out.iterdir()) == [newest, "unrelated.txt"]


def test_a_backup_that_cannot_be_written_is_a_clear_error(site):
    not_a_folder = site / "backups"
    not_a_folder.write_text("a file where the folder should be")
    with pytest.raises(CommandError, match="The backup could not be written") as failed:
        call_command("backup", "--output", str(not_a_folder))
    assert failed.value.returncode == 1
