"""`clientarea load_help_content`: create or update the help articles from clientarea/helpcenter/content/."""

from django.core.management.base import BaseCommand

from clientarea.helpcenter import services


class Command(BaseCommand):
    help = "Create or update the help center articles from the Markdown files (idempotent; file text wins)."

    def handle(self, *args, **options):
        counts = services.import_help_content()
        self.stdout.write(
            self.style.SUCCESS(
                "Help articles: {created} created, {updated} updated, {unchanged} unchanged.".format(
                    **counts
                )
            )
        )
