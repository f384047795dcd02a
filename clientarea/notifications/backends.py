"""Console email backend for development: headers, the text body and a list of attachments.

Django's console backend prints the whole MIME message, attachments base64-encoded, which buries
everything else on the terminal. The full message is always in the email log (back office).
"""

from __future__ import annotations

import sys
import threading

from django.core.mail.backends.base import BaseEmailBackend


class ConsoleSummaryBackend(BaseEmailBackend):
    def __init__(self, *args, stream=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()

    def send_messages(self, email_messages) -> int:
        sent = 0
        with self._lock:
            for message in email_messages:
                lines = [
                    "-" * 72,
                    f"To: {', '.join(message.to)}",
                    f"Subject: {message.subject}",
                    "",
                    message.body.rstrip(),
                ]
                for attachment in message.attachments:
                    name, content = (
                        (attachment[0], attachment[1])
                        if isinstance(attachment, tuple)
                        else (attachment.get_filename(), b"")
                    )
                    lines.append(f"[attachment] {name} ({len(content or b'')} bytes)")
                lines.append("-" * 72)
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
                sent += 1
        return sent
