"""The site's own date formats (FORMAT_MODULE_PATH), over Django's per-language ones.

Templates show short dates with ``date:"SHORT_DATE_FORMAT"`` / ``"SHORT_DATETIME_FORMAT"``: a
literal ``"j M Y"`` cannot serve Spanish, whose month abbreviations are lowercase ("4 dic 2026"),
because the ``M`` format character always capitalises. The full month names come from Django's
catalog, corrected to lowercase in our own ``locale/es`` (Django's es_CO catalog capitalises them).
"""
