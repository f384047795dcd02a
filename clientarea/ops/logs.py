"""Log records carry the request id; ``LOG_FORMAT=json`` writes one JSON object per line.

Both are wired in ``settings.LOGGING``: the filter on the console handler, and the JSON
formatter (python-json-logger) when ``LOG_FORMAT=json``.
"""

from __future__ import annotations

import logging

from clientarea.ops import request_id


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``: the current request's (or job's) id, or None outside both."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True
