"""Demo help center: the articles in ``content/`` (es and en). Idempotent: updates only what changed."""

from __future__ import annotations

from clientarea.helpcenter import services


def load(stdout) -> None:
    counts = services.import_help_content()
    stdout.write(
        "  help center: {created} articles created, {updated} updated, {unchanged} unchanged".format(
            **counts
        )
    )
