"""`clientarea backup [--output DIR] [--keep N] [--include-secrets]`: one restorable archive.

Exit status: 0 written, 1 failed (nothing left behind).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from clientarea.ops import backup


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Back up the database (SQLite online backup or pg_dump) with the certificates, uploads "
        "and local settings into one .tar.gz with a manifest (row counts, SHA-256 of each file). "
        "The secret key and certificate password are left out unless --include-secrets."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="folder for the archive (default: VAR_DIR/backups)",
        )
        parser.add_argument(
            "--keep",
            type=positive,
            default=None,
            help="afterwards keep only the N newest archives in that folder",
        )
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="also store var/secret_key, SECRET_KEY and EINVOICE_CERT_PASSWORD in clear",
        )

    def handle(self, *args, **options):
        output = options["output"] or Path(settings.VAR_DIR) / "backups"
        try:
            result = backup.create_backup(
                output_dir=output,
                include_secrets=options["include_secrets"],
                keep=options["keep"],
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc), returncode=1) from exc
        except OSError as exc:  # a full disk, a folder we may not write to
            raise CommandError(
                _("The backup could not be written: %(error)s") % {"error": exc}, returncode=1
            ) from exc
        self.stdout.write(
            _(
                "Backup written: %(path)s (%(size)s bytes; tables: %(tables)s, rows: %(rows)s, "
                "files: %(files)s)."
            )
            % {
                "path": result.path,
                "size": result.size,
                "tables": result.tables,
                "rows": result.rows,
                "files": result.files,
            }
        )
        if result.secrets_included:
            self.stdout.write(
                self.style.WARNING(
                    _("It holds the secret key and certificate password in clear: keep it safe.")
                )
            )
        for path in result.removed:
            self.stdout.write(_("Removed old backup %(path)s.") % {"path": path})
