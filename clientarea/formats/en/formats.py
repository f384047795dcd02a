"""English: "4 Dec 2026", "4 Dec 2026 14:05" and, written out, "4 December 2026" (day first, as in
the Spanish pages; Django's own "Dec. 4, 2026" sat beside "4 Dec 2026" on the same pages)."""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y H:i"
