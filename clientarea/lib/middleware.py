"""Request guards that apply to every view."""

from __future__ import annotations

from django.core.exceptions import BadRequest


class RejectNulMiddleware:
    """A NUL byte in the URL is never legitimate: answer 400 before any view sees it.

    PostgreSQL text cannot hold NUL, so such a value would otherwise fail deep inside a
    query (a 500 on PostgreSQL, a silent mismatch on SQLite). Form fields already refuse
    NUL (Django's ProhibitNullCharactersValidator); gateway bodies are checked by their
    signatures and stored with NUL replaced.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            raise BadRequest("NUL byte in the URL")
        return self.get_response(request)
