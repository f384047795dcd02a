"""`clientarea rebuild_help_index`: rebuild the help center search index (SQLite FTS5) from the articles."""

from django.core.management.base import BaseCommand

from clientarea.helpcenter import services


class Command(BaseCommand):
    help = "Rebuild the help center full-text index (needed after restoring a SQLite database from elsewhere)."

    def handle(self, *args, **options):
        count = services.rebuild_search_index()
        self.stdout.write(self.style.SUCCESS(f"Indexed {count} article(s)."))
