"""`clientarea restore ARCHIVE [--force]`: put a `clientarea backup` archive back.

Stop the web and the worker first. Exit status: 0 restored and verified, 1 restored but the row
counts differ from the manifest (listed), 2 refused (nothing changed).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from clientarea.ops import backup


class Command(BaseCommand):
    help = (
        "Restore a `clientarea backup` archive: checks it (SHA-256 of every file, database "
        "vendor, migrations) before changing anything, refuses a database that already holds "
        "data unless --force, then compares every table's row count with the manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path, help="the .tar.gz made by `clientarea backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace the data of a database that is not empty",
        )

    def handle(self, *args, **options):
        try:
            result = backup.restore_backup(archive=options["archive"], force=options["force"])
        except backup.BackupError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except (
            OSError
        ) as exc:  # e.g. no room to unpack the archive, or a folder we may not write to
            raise CommandError(
                _("The restore stopped: %(error)s") % {"error": exc}, returncode=1
            ) from exc
        for note in result.notes:
            self.stdout.write(note)
        if not result.verified:
            lines = [
                _("%(table)s: %(expected)s rows in the backup, %(found)s now")
                % {"table": table, "expected": expected, "found": found}
                for table, (expected, found) in sorted(result.mismatched.items())
            ]
            raise CommandError(
                _("Restored, but the row counts differ from the backup's:")
                + "\n"
                + "\n".join(lines),
                returncode=1,
            )
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Restored the backup of %(created)s: tables: %(tables)s (row counts checked), "
                    "files: %(files)s. Run `clientarea migrate` if this version is newer."
                )
                % {"created": result.created_at, "tables": result.tables, "files": result.files}
            )
        )
