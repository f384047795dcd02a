"""A client-area page whose content is already rendered (the Billing page's cached order list),
put in its shell (``base.html`` and ``clientarea/base.html``: head, header, menu, footer) from a
copy of the shell rendered once per process.

The shell is the same for every request with the same template, view, language, site-data
version (``lib.sitecache``: the provider in the header and footer, the help links) and permission
set (the menu): it is rendered once for each with markers where the parts that belong to one
request go, kept in the ``pages`` cache as the pieces between the markers, and each request joins
those pieces with its own parts: the content, the CSRF token of the language and logout forms
(this request's, from ``get_token``, which also sets the cookie as the ``{% csrf_token %}`` tag
does), and the page the language form returns to. A request with messages to show or of staff
viewing the client area as a customer (the banner) gets the shell rendered the usual way.

Nothing of the account is in the cached shell: the content is a marker when it is rendered, so
another customer with the same permissions gets the same bytes a full render would give them
(``portal/tests/test_page_shell.py`` compares the two for a second customer and fails when the
shell reads anything per user that the key leaves out).
"""

from __future__ import annotations

import re
import secrets

from django.contrib.messages import get_messages
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import mark_safe

from clientarea.accounts.impersonation import current as current_impersonation
from clientarea.accounts.permissions import current_access
from clientarea.lib import sitecache

PAGE_CACHE = "pages"
#: Where each request's own parts go in the rendered shell: random per process, so no text of a
#: page can contain one.
_MARK = secrets.token_hex(16)
CONTENT, TOKEN, NEXT = (f"shell-{part}-{_MARK}" for part in ("content", "token", "next"))
_SPLIT = re.compile(f"({CONTENT}|{TOKEN}|{NEXT})")


def shell_key(request: HttpRequest, template_name: str) -> str | None:
    """What the shell of this page depends on; None for a request that does not get a cached
    shell (no client-area access resolved, messages to show, staff viewing as a customer)."""
    access = current_access(request)
    match = request.resolver_match
    if access is None or match is None or current_impersonation(request) is not None:
        return None
    if len(get_messages(request)):  # counting them does not mark them shown
        return None
    return ":".join(
        (
            "shell",
            template_name,
            match.view_name,
            translation.get_language() or "",
            sitecache.version(),
            access.cache_key,
        )
    )


def render_in_shell(request: HttpRequest, template_name: str, content: str) -> HttpResponse:
    """``template_name`` (which shows ``{{ content }}`` in the client-area shell) with ``content``,
    our own rendered HTML."""
    key = shell_key(request, template_name)
    if key is None:
        return render(request, template_name, {"content": mark_safe(content)})  # noqa: S308 (our own rendered template)
    cache = caches[PAGE_CACHE]
    pieces = cache.get(key)
    if pieces is None:
        # The markers in place of this request's parts: a template's own context comes before
        # the context processors' (its csrf_token), and base.html's language form returns to
        # ``return_path`` when the context gives one (else to ``request.get_full_path``).
        html = render_to_string(
            template_name,
            {"content": CONTENT, "csrf_token": TOKEN, "return_path": NEXT},
            request=request,
        )
        pieces = _SPLIT.split(html)
        cache.set(key, pieces)
    own = {
        CONTENT: content,
        TOKEN: get_token(request),  # letters and digits only: nothing to escape
        NEXT: escape(request.get_full_path()),
    }
    return HttpResponse("".join([own.get(piece, piece) for piece in pieces]))
