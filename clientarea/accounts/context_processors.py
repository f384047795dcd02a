from django.utils.functional import SimpleLazyObject

from clientarea.accounts.impersonation import current as current_impersonation
from clientarea.accounts.permissions import current_access
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
    """What the logged-in contact may do, for the client area's menu (set by ``client_area``)."""
    return {"access": current_access(request)}
