"""XML Schemas the hub validates against, vendored so a clone needs nothing beside it.

``egisso/`` is an unmodified copy of ``../shared/formats/egisso`` (EGISSO 10.06.S 1.0.5 and 1.0.6 with their
imports and official samples; a test checks the copy against the original when it is present).
"""

from __future__ import annotations

from pathlib import Path

XSD_DIR = Path(__file__).resolve().parent
EGISSO_VERSIONS = ("1.0.5", "1.0.6")


def egisso_xsd(version: str) -> Path:
    """The root XSD of the EGISSO 10.06.S message of ``version`` (``1.0.5`` or ``1.0.6``)."""
    if version not in EGISSO_VERSIONS:
        raise ValueError(f"EGISSO 10.06.S version must be one of {EGISSO_VERSIONS}, got {version!r}")
    return XSD_DIR / "egisso" / f"10.06.S-{version}.xsd"
