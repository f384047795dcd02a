"""Every button of the client area looks like one.

A bare ``.btn`` is white text-coloured type with a transparent border: on a white card it reads
as plain text (the statement's "Show" and the contacts' "Save" did). Each button names its look.
"""

from __future__ import annotations

import re
from pathlib import Path

import clientarea

ROOT = Path(clientarea.__file__).parent
# Classes that give a .btn its visible look (app.css, help.css).
LOOKS = {"btn-primary", "btn-outline", "btn-pay", "btn-danger", "vote-btn"}
CLASS_ATTR = re.compile(r'class="([^"]*)"')


def client_area_templates() -> list[Path]:
    """The customer-facing templates: not the back office's, the simulators' or the emails'."""
    skipped = ("admin", "sandbox", "emails", "backoffice", "reports")
    return [
        path
        for path in ROOT.rglob("templates/**/*.html")
        if not any(part in skipped for part in path.relative_to(ROOT).parts)
        and not path.name.startswith("base")  # the page shell
    ]


def test_no_client_area_button_is_a_bare_btn():
    templates = client_area_templates()
    assert any(path.name == "statement.html" for path in templates)
    bare = []
    for path in templates:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for classes in CLASS_ATTR.findall(line):
                tokens = set(classes.split())
                if "btn" in tokens and not tokens & LOOKS:
                    bare.append(f"{path.relative_to(ROOT)}:{number}: {classes}")
    assert bare == []


def back_office_templates() -> list[Path]:
    """The staff pages: the admin's overrides, the back office app's and the reports'."""
    return [
        path
        for path in ROOT.rglob("templates/**/*.html")
        if {"admin", "backoffice", "reports"} & set(path.relative_to(ROOT).parts)
        or path.name.startswith("admin_")
    ]


BUTTON_TAG = re.compile(r"<button\b[^>]*>")
# "button" is the admin's button look; "bo-link" a button that reads as a link (backoffice.css).
BACK_OFFICE_LOOKS = {"button", "bo-link"}


def test_no_back_office_button_is_a_bare_browser_button():
    """ "Preparar XLSX" and the email templates' "Use this version again" were the browser's grey
    buttons beside the admin's blue ones: a <button> takes the admin's look from ``class="button"``."""
    templates = back_office_templates()
    assert any(path.name == "reports.html" for path in templates)
    bare = []
    for path in templates:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for tag in BUTTON_TAG.findall(line):
                classes = CLASS_ATTR.findall(tag)
                if 'type="button"' not in tag and not (
                    classes and BACK_OFFICE_LOOKS & set(classes[0].split())
                ):
                    bare.append(f"{path.relative_to(ROOT)}:{number}: {tag}")
    assert bare == []
