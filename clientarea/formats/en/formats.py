"""English: "4 Dec 2026", "4 Dec 2026 14:05" (day first, as in the Spanish pages)."""

SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y H:i"
