from clientarea.accounts.selectors import get_provider


def provider(request):
    """The provider profile for headers and footers (one cheap query per page)."""
    return {"provider": get_provider()}
