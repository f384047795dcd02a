"""Turn off two-factor login for a user who lost their phone and recovery codes (staff recovery)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clientarea.accounts import twofactor
from clientarea.accounts.models import User


class Command(BaseCommand):
    help = "Remove a user's two-factor devices (audited); they set it up again at their next login."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--reason", default="lost device (command line)")

    def handle(self, *args, **options):
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"No user with the email {options['email']!r}.")
        if twofactor.reset_two_factor(user=user, reason=options["reason"]):
            self.stdout.write(f"Two-factor login removed for {user.email}.")
        else:
            self.stdout.write(f"{user.email} had no two-factor login.")
