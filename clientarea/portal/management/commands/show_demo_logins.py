from django.conf import settings
from django.core.management.base import BaseCommand

from clientarea.accounts.demo import DEMO_LOGINS


class Command(BaseCommand):
    help = "Print the demo logins."

    def handle(self, *args, **options):
        self.stdout.write(f"\nDemo logins ({settings.SITE_URL}/clientarea/):")
        # Columns as wide as their longest entry ("Billing contact (company)" broke a fixed 22).
        roles = max(len(role) for role, _email, _secret in DEMO_LOGINS)
        emails = max(len(email) for _role, email, _secret in DEMO_LOGINS)
        for role, email, secret in DEMO_LOGINS:
            self.stdout.write(f"  {role:<{roles}}  {email:<{emails}}  {secret}")
        self.stdout.write("")
