"""DIAN code lists (genericode files copied unmodified under lib/data/dian-codelists)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

DATA_DIR = Path(__file__).resolve().parent / "data" / "dian-codelists"


@cache
def codelist(name: str) -> dict[str, str]:
    """Map code → name for a DIAN genericode list, e.g. ``codelist("Municipio")``."""
    tree = etree.parse(str(DATA_DIR / f"{name}-2.1.gc"))
    rows: dict[str, str] = {}
    for row in tree.iterfind(".//Row"):
        values = {
            v.get("ColumnRef"): (v.findtext("SimpleValue") or "").strip()
            for v in row.iterfind("Value")
        }
        code = values.get("code") or values.get("Code") or ""
        name_ = values.get("name") or values.get("Name") or values.get("description") or ""
        if code:
            rows[code] = name_
    return rows


def municipalities() -> dict[str, str]:
    return codelist("Municipio")


def departments() -> dict[str, str]:
    return codelist("Departamentos")


@cache
def municipality_choices() -> list[tuple[str, str]]:
    """Choices sorted by department then municipality: ``Medellín (Antioquia)``."""
    deps = departments()
    items = [
        (code, f"{name} ({deps.get(code[:2], code[:2])})")
        for code, name in municipalities().items()
    ]
    return sorted(items, key=lambda item: (deps.get(item[0][:2], ""), item[1]))


def municipality_label(code: str) -> str:
    name = municipalities().get(code, "")
    dep = departments().get(code[:2], "")
    return f"{name}, {dep}" if name else code
