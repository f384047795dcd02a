"""DIAN's service contract (the WSDL's XSDs, copied in ``sandbox/schemas/dian-ws``), compiled
offline: ``…?xsd=xsdN`` is resolved to the local ``xsdN.xsd``."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lxml import etree

FOLDER = Path(__file__).resolve().parents[1] / "schemas" / "dian-ws"


class _LocalXsd(etree.Resolver):
    def resolve(self, system_url, public_id, context):
        match = re.search(r"\?xsd=(xsd\d+)$", system_url or "")
        if match:
            return self.resolve_filename(str(FOLDER / f"{match.group(1)}.xsd"), context)
        return None


@functools.cache
def schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalXsd())
    return etree.XMLSchema(etree.parse(str(FOLDER / "xsd0.xsd"), parser))


def errors(body_child: etree._Element) -> list[str]:
    """Schema errors of one SOAP body element (e.g. ``wcf:SendBillSyncResponse``)."""
    import copy

    doc = etree.ElementTree(copy.deepcopy(body_child))
    s = schema()
    return [] if s.validate(doc) else [str(e) for e in s.error_log]
