"""Demo numbering resolution (DIAN's published test set) and a self-signed signing certificate."""

from __future__ import annotations

import datetime as dt
import os

from django.conf import settings

from clientarea.einvoice.models import Environment, NumberingResolution
from clientarea.einvoice.signing import create_demo_certificate

# DIAN's habilitación test set: prefix SETP, range and technical key published in DIAN's sample
# invoice (shared/docs/dian-einvoice.md §1.2, §5). Test environment only.
DIAN_TEST_TECHNICAL_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"


def load(stdout) -> None:
    if not NumberingResolution.objects.exists():
        NumberingResolution.objects.create(
            number="18760000001",
            prefix="SETP",
            range_from=990000000,
            range_to=995000000,
            next_number=990000000,
            valid_from=dt.date(2019, 1, 19),
            valid_to=dt.date(2030, 1, 19),
            technical_key=DIAN_TEST_TECHNICAL_KEY,
            environment=Environment.TEST,
        )
        stdout.write("  numbering resolution: SETP 990000000–995000000 (DIAN test set)")
    path = settings.EINVOICE_CERT_PATH
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        create_demo_certificate(
            path, settings.EINVOICE_CERT_PASSWORD, "Conexcol Comunicaciones S.A.S. (DEMO)"
        )
        stdout.write(f"  self-signed demo signing certificate: {path}")
