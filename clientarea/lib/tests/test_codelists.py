"""Municipality and department names: DIAN's list, with correct Spanish capitalisation."""

from __future__ import annotations

import pytest

from clientarea.lib import codelists
from clientarea.lib.codelists import place_name

# Real entries of DIAN's Municipio-2.1 list (code → name as it should read), spelt
# as DIAN spells them (accents included), capitalised as Spanish place names are.
MUNICIPALITIES = {
    "11001": "Bogotá, D.C.",
    "05001": "Medellín",
    "76001": "Cali",
    "08001": "Barranquilla",
    "05042": "Santa Fé de Antioquia",
    "05148": "El Carmen de Viboral",
    "05376": "La Ceja",
    "05658": "San José de la Montaña",
    "05664": "San Pedro de los Milagros",
    "05873": "Vigía del Fuerte",
    "08137": "Campo de la Cruz",
    "13001": "Cartagena de Indias",
    "13442": "María la Baja",
    "15332": "Güicán de la Sierra",
    "15407": "Villa de Leyva",
    "18094": "Belén de los Andaquíes",
    "18753": "San Vicente del Caguán",
    "20443": "Manaure Balcón del Cesar",
    "23586": "Purísima de la Concepción",
    "25843": "Villa de San Diego de Ubaté",
    "27135": "El Cantón del San Pablo",
    "27250": "El Litoral del San Juan",
    "47660": "Sabanas de San Ángel",
    "50150": "Castilla la Nueva",
    "52835": "San Andrés de Tumaco",
    "54001": "San José de Cúcuta",
    "54874": "Villa del Rosario",
    "70820": "Santiago de Tolú",
    "73443": "San Sebastián de Mariquita",
    "76111": "Guadalajara de Buga",
    "76243": "El Águila",
    "86865": "Valle del Guamuez",
    "95001": "San José del Guaviare",
    "88001": "San Andrés",
}


@pytest.mark.parametrize(("code", "expected"), sorted(MUNICIPALITIES.items()))
def test_municipalities_read_as_spanish_place_names(code, expected):
    assert codelists.municipalities()[code] == expected


def test_no_municipality_keeps_a_capitalised_particle_or_lower_case_initials():
    for name in codelists.municipalities().values():
        _first, *rest = name.split()
        assert not {"De", "Del", "La", "Las", "Los", "Y", "El"} & set(rest), name
        assert "D.c." not in name, name


def test_departments_too():
    departments = codelists.departments()
    assert departments["54"] == "Norte de Santander"
    assert departments["76"] == "Valle del Cauca"
    assert departments["88"] == "San Andrés y Providencia"
    assert departments["44"] == "La Guajira"


@pytest.mark.parametrize(
    ("official", "expected"),
    [
        ("BOGOTÁ, D.C.", "Bogotá, D.C."),
        ("EL CARMEN DE VIBORAL", "El Carmen de Viboral"),
        ("SAN ANDRÉS DE TUMACO", "San Andrés de Tumaco"),
        ("SAN JOSÉ DE LA MONTAÑA", "San José de la Montaña"),
        ("BELÉN DE LOS ANDAQUÍES", "Belén de los Andaquíes"),
        ("ARCHIPIÉLAGO DE SAN ANDRÉS, PROVIDENCIA Y SANTA CATALINA",
         "Archipiélago de San Andrés, Providencia y Santa Catalina"),
        ("LA JAGUA DE IBIRICO", "La Jagua de Ibirico"),
        ("PIENDAMÓ - TUNÍA", "Piendamó - Tunía"),
        ("EL CANTÓN DEL SAN PABLO", "El Cantón del San Pablo"),
        ("Bogotá, D.c.", "Bogotá, D.C."),
        ("  Cartagena  De Indias ", "Cartagena de Indias"),
        ("", ""),
    ],
)  # fmt: skip
def test_place_name(official, expected):
    assert place_name(official) == expected


def test_labels_and_choices_use_the_display_names():
    assert codelists.municipality_label("05001") == "Medellín, Antioquia"
    assert ("05148", "El Carmen de Viboral (Antioquia)") in codelists.municipality_choices()


def test_bogota_is_not_repeated_as_its_own_department():
    """DIAN lists Bogotá as municipality "Bogotá, D.C." of department "Bogotá": shown once."""
    assert codelists.departments()["11"] == "Bogotá"
    assert codelists.municipality_label("11001") == "Bogotá, D.C."
    assert ("11001", "Bogotá, D.C.") in codelists.municipality_choices()
    assert codelists.place_line("Bogotá, D.C.", "Bogotá") == "Bogotá, D.C."
    assert codelists.place_line("Medellín", "Antioquia") == "Medellín, Antioquia"
