"""The demo logins that ``make run`` prints line up in columns."""

import io

from django.core.management import call_command


def test_the_demo_logins_are_printed_in_aligned_columns():
    out = io.StringIO()
    call_command("show_demo_logins", stdout=out)
    lines = [line for line in out.getvalue().splitlines() if "@" in line]
    assert len(lines) == 4
    emails = {line.index("@") - len(line.split("@")[0].split()[-1]) for line in lines}
    assert len(emails) == 1, out.getvalue()  # every email starts in the same column
