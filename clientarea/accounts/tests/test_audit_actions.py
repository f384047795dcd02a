"""The audit log's actions read in words, in the reader's language, the code kept beside them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from clientarea.accounts import audit
from clientarea.accounts.audit_actions import ACTION_LABELS, action_label
from clientarea.test import make_customer, make_provider, make_staff

SOURCE = Path(__file__).resolve().parents[2]  # the clientarea package

# The codes built from a value, with every value that value takes (a new one fails below).
DYNAMIC = {
    "f'einvoice.{kind}_issued'": ["einvoice.credit_note_issued", "einvoice.debit_note_issued"],
    "f'withholdings.{setting._meta.model_name}_saved'": [
        "withholdings.withholdingrule_saved",
        "withholdings.uvtvalue_saved",
    ],
    "f'service.{action}'": ["service.suspend", "service.unsuspend", "service.terminate"],
}


def _recorders(tree: ast.Module) -> set[str]:
    """The names this module calls the audit writer by (``audit.record`` is matched apart)."""
    names = {"change_customer_field"}  # audits the ``action`` it is given
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("audit"):
            names |= {alias.asname or alias.name for alias in node.names if alias.name == "record"}
    return names


def _codes_written() -> tuple[set[str], set[str]]:
    """Every action code a module passes to the audit log, and the f-strings that build one."""
    codes: set[str] = set()
    built: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if {"tests", "migrations"} & set(path.parts) or path.name.startswith("test"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _recorders(tree)
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute):
                called = func.attr == "record" and getattr(func.value, "id", "") == "audit"
            else:
                called = isinstance(func, ast.Name) and func.id in names
            value = next((kw.value for kw in node.keywords if kw.arg == "action"), None)
            if not called or value is None:
                continue
            if isinstance(value, ast.JoinedStr):
                built.add(ast.unparse(value))
                continue
            sources = [value]
            if isinstance(value, ast.Name):  # a local: the values assigned to it
                inside = next(
                    f for f in functions if f.lineno <= node.lineno <= (f.end_lineno or 0)
                )
                sources = [
                    a.value
                    for a in ast.walk(inside)
                    if isinstance(a, ast.Assign)
                    and any(getattr(t, "id", "") == value.id for t in a.targets)
                ]
            for source in sources:
                codes |= {
                    c.value
                    for c in ast.walk(source)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                }
    return codes, built


def test_every_action_code_written_has_a_label():
    codes, built = _codes_written()
    assert "billing.manual_payment" in codes and "helpcenter.article_added" in codes  # it reads
    assert built == set(DYNAMIC), "a new code built from a value: list its values in DYNAMIC"
    for values in DYNAMIC.values():
        codes |= set(values)
    assert sorted(codes - set(ACTION_LABELS)) == []
    assert sorted(set(ACTION_LABELS) - codes) == []  # no label for a code nothing writes


def test_every_label_reads_in_spanish():
    with translation.override("en"):
        english = {code: str(label) for code, label in ACTION_LABELS.items()}
    with translation.override("es-co"):
        untranslated = [
            code for code, label in ACTION_LABELS.items() if str(label) == english[code]
        ]
    assert untranslated == []


def test_a_code_without_a_label_shows_as_stored():
    assert action_label("retired.code") == "retired.code"
    with translation.override("es-co"):
        assert action_label("billing.manual_payment") == "Pago manual registrado"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "words"),
    [("es-co", "Pago manual registrado"), ("en", "Manual payment registered")],
)
def test_the_log_list_its_filter_and_the_customer_page_read_the_action_in_words(
    client, language, words
):
    make_provider()
    staff = make_staff()
    alice = make_customer("alice@example.com")
    audit.record(action="billing.manual_payment", actor=staff, customer=alice, target="ODS-1")
    client.force_login(staff)
    client.cookies["django_language"] = language
    url = reverse("admin:accounts_auditevent_changelist")

    page = client.get(url).content.decode()
    rows, filters = page.split('id="changelist-filter"')
    assert words in rows and "billing.manual_payment" in rows  # the code small, under the words
    assert words in filters and ">billing.manual_payment<" not in filters
    assert "ODS-1" in client.get(url, {"action": "billing.manual_payment"}).content.decode()
    assert "ODS-1" not in client.get(url, {"action": "contact.added"}).content.decode()
    assert "ODS-1" in client.get(url, {"q": "manual_payment"}).content.decode()

    customer_page = client.get(reverse("backoffice:customer", args=[alice.pk])).content.decode()
    section = customer_page.split('id="audit"')[1]
    assert words in section and "billing.manual_payment" in section


@pytest.mark.django_db
def test_the_action_filter_choices_come_from_a_selector_in_words_sorted_by_them():
    from clientarea.accounts import selectors

    staff = make_staff()
    for code in ["service.suspend", "billing.manual_payment", "retired.code", "service.suspend"]:
        audit.record(action=code, actor=staff, target="X")
    with translation.override("en"):
        assert selectors.audit_action_choices() == [
            ("billing.manual_payment", "Manual payment registered"),
            ("retired.code", "retired.code"),
            ("service.suspend", "Service suspended"),
        ]
    with translation.override("es-co"):
        assert selectors.audit_action_choices() == [
            ("billing.manual_payment", "Pago manual registrado"),
            ("retired.code", "retired.code"),
            ("service.suspend", "Servicio suspendido"),
        ]
    assert selectors.audit_staff_actors() == [staff]


@pytest.mark.django_db
def test_the_log_admin_filters_read_through_the_selectors(client, monkeypatch):
    from clientarea.accounts import selectors

    make_provider()
    staff = make_staff()
    audit.record(action="billing.manual_payment", actor=staff, target="ODS-1")
    monkeypatch.setattr(
        selectors, "audit_action_choices", lambda: [("billing.manual_payment", "FROM-SELECTOR")]
    )
    monkeypatch.setattr(selectors, "audit_staff_actors", list)
    client.force_login(staff)
    page = client.get(reverse("admin:accounts_auditevent_changelist")).content.decode()
    filters = page.split('id="changelist-filter"')[1]
    assert "FROM-SELECTOR" in filters
    assert staff.email not in filters
