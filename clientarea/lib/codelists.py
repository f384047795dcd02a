"""DIAN code lists (genericode files copied unmodified under lib/data/dian-codelists).

The municipality names in DIAN's list come naively title-cased ("Bogotá, D.c.",
"El Carmen De Viboral"); :func:`place_name` gives them their correct Spanish
capitalisation for display, the invoice PDF and the XML ``CityName``. The files
themselves stay as DIAN published them.
"""

from __future__ import annotations

import re
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


# Articles, prepositions and the conjunction, lower case inside a place name
# ("San José de la Montaña", "Valle del Cauca", "San Andrés y Providencia").
_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "el"})
_INITIALS = re.compile(r"(?:\w\.)+,?", re.UNICODE)  # "D.C.", "D.c.," → upper case


def place_name(name: str) -> str:
    """A Colombian place name with Spanish capitalisation, from DIAN's list as it comes.

    Works on DIAN's title-cased names and on the all-capitals form of the
    official DIVIPOLA list: every word capitalised (accents kept), articles and
    prepositions lower case except first, initials such as "D.C." upper case::

        "Bogotá, D.c."          → "Bogotá, D.C."
        "EL CARMEN DE VIBORAL"  → "El Carmen de Viboral"
        "San Andrés De Tumaco"  → "San Andrés de Tumaco"
    """
    words = name.split()
    result = []
    for index, word in enumerate(words):
        if _INITIALS.fullmatch(word):
            result.append(word.upper())
        elif index > 0 and word.lower() in _PARTICLES:
            result.append(word.lower())
        else:
            # capitalise each hyphen-joined part: "PIENDAMÓ-TUNÍA" → "Piendamó-Tunía"
            result.append("-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")))
    return " ".join(result)


@cache
def municipalities() -> dict[str, str]:
    """Code → display name (see :func:`place_name`) of DIAN's municipality list."""
    return {code: place_name(name) for code, name in codelist("Municipio").items()}


@cache
def departments() -> dict[str, str]:
    """Code → display name (see :func:`place_name`) of DIAN's department list."""
    return {code: place_name(name) for code, name in codelist("Departamentos").items()}


@cache
def municipality_choices() -> list[tuple[str, str]]:
    """Choices sorted by department then municipality: ``Medellín (Antioquia)``."""
    deps = departments()
    items = [
        (
            code,
            name
            if _same_place(name, deps.get(code[:2], ""))
            else f"{name} ({deps.get(code[:2], code[:2])})",
        )
        for code, name in municipalities().items()
    ]
    return sorted(items, key=lambda item: (deps.get(item[0][:2], ""), item[1]))


def _same_place(municipality: str, department: str) -> bool:
    """Bogotá is both: DIAN's municipality "Bogotá, D.C." in its department "Bogotá"."""
    return (
        bool(department) and municipality.split(",")[0].strip().casefold() == department.casefold()
    )


def place_line(municipality: str, department: str) -> str:
    """The displayed "Medellín, Antioquia", without repeating a department that is its city:
    "Bogotá, D.C.", not "Bogotá, D.C., Bogotá". (Only for display: DIAN's XML keeps both.)"""
    if _same_place(municipality, department):
        return municipality
    return ", ".join(part for part in (municipality, department) if part)


def municipality_label(code: str) -> str:
    name = municipalities().get(code, "")
    return place_line(name, departments().get(code[:2], "")) if name else code
