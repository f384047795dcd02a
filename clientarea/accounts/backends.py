"""Log in with email + access code (typed with or without dashes) or a chosen password."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from clientarea.accounts.models import User
from clientarea.accounts.selectors import login_username, session_user
from clientarea.accounts.services import normalize_access_code


def axes_username(request, credentials: dict | None) -> str:
    """The username django-axes counts failures under: ``Ana@X`` and ``ana@x`` are one account."""
    return login_username((credentials or {}).get("username"))


class EmailAccessCodeBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or not password:
            return None
        user = User.objects.filter(email__iexact=username.strip()).first()
        if user is None:
            User().set_password(password)  # same cost as a real check: no timing oracle for emails
            return None
        candidates = [password]
        normalized = normalize_access_code(password)
        if normalized and normalized != password:
            candidates.append(normalized)
        if any(user.check_password(c) for c in candidates) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        """The request's user with their contact and customer (``selectors.session_user``), so
        the client area's permission check reads nothing more."""
        user = session_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
