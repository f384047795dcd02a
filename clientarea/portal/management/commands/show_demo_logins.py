from django.conf import settings
from django.core.management.base import BaseCommand

from clientarea.accounts.demo import DEMO_LOGINS


class Command(BaseCommand):
    help = "Print the demo logins."

    def handle(self, *args, **options):
        self.stdout.write(f"\nDemo logins ({settings.SITE_URL}/clientarea/):")
        for role, email, secret in DEMO_LOGINS:
            self.stdout.write(f"  {role:<22} {email:<32} {secret}")
        self.stdout.write("")
