"""Worker tasks for the help center."""

from django.utils.translation import gettext_lazy as _
from huey import crontab

from clientarea.helpcenter import services
from clientarea.lib.periodic import periodic_task


@periodic_task(
    crontab(hour="3", minute="40"), label=_("Clear the help center's view counts of previous days")
)
def prune_view_log_task() -> int:
    """Forget the counted-view rows of previous days (they only de-duplicate today's views)."""
    return services.prune_view_log()
