from django.http import Http404
from django.utils.functional import SimpleLazyObject

from clientarea.accounts.impersonation import current as current_impersonation
from clientarea.accounts.permissions import current_access, resolve_access
from clientarea.accounts.selectors import provider_for_pages
from clientarea.lib import sitecache


def provider(request):
    """The provider profile for headers and footers (kept in memory: see ``provider_for_pages``),
    read only if the page shows it (the header and footer are cached fragments), and the version
    of the site data it belongs to, which their cache keys hold (``lib.sitecache``)."""
    return {"provider": SimpleLazyObject(provider_for_pages), "site_version": sitecache.version()}


def impersonation(request):
    """The "viewing as …" banner of a staff member in the client area (see accounts.impersonation)."""
    return {"impersonation": current_impersonation(request)}


def access(request):
    """What the logged-in contact may do, for the client area's menu (set by ``client_area``).

    Client-area pages open to visitors too (the catalog and cart, the new access code) resolve it
    for a logged-in customer: their menu lacked Contacts, and showed a contact without the
    permission Services and Billing, which answer 403."""
    found = current_access(request)
    user = getattr(request, "user", None)
    if found is None and user is not None and user.is_authenticated and not user.is_staff:
        try:
            found = resolve_access(request)
        except Http404:  # a login without a customer account
            found = None
    return {"access": found}
