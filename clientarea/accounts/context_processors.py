from clientarea.accounts.impersonation import current as current_impersonation
from clientarea.accounts.permissions import current_access
from clientarea.accounts.selectors import get_provider


def provider(request):
    """The provider profile for headers and footers (one cheap query per page)."""
    return {"provider": get_provider()}


def impersonation(request):
    """The "viewing as …" banner of a staff member in the client area (see accounts.impersonation)."""
    return {"impersonation": current_impersonation(request)}


def access(request):
    """What the logged-in contact may do, for the client area's menu (set by ``client_area``)."""
    return {"access": current_access(request)}
