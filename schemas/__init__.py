"""The canonical model: the shared language of every agency feeding the hub.

Layers (each a module):

* ``codes``       – code lists as enums with Russian labels;
* ``identifiers`` – SNILS, passport, birth certificate, OMS policy: normalisation and validation;
* ``base``        – ``CanonicalModel`` (PII-safe errors) and ``Provenance``;
* ``person``, ``family``, ``care`` – the canonical records;
* ``validation``  – turning a JSON document into a record, with errors that never echo personal values.

Every canonical record has a ``record_kind`` and a ``provenance``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas.base import CanonicalModel, Provenance
from schemas.care import (
    AccompanimentCase,
    Consent,
    Curator,
    DisabilityStatus,
    PlannedService,
    ServiceRecord,
)
from schemas.family import CategoryAssignment, Family, Membership
from schemas.person import Address, Contact, Identifier, Person

RECORD_MODELS: dict[str, type[CanonicalModel]] = {
    "person": Person,
    "family": Family,
    "membership": Membership,
    "case": AccompanimentCase,
    "service": ServiceRecord,
    "disability": DisabilityStatus,
    "consent": Consent,
}
"""Every canonical record kind and its model, in a stable order."""

CanonicalRecord = Annotated[
    Person | Family | Membership | AccompanimentCase | ServiceRecord | DisabilityStatus | Consent,
    Field(discriminator="record_kind"),
]
"""Any canonical record, told apart by ``record_kind``."""

__all__ = [
    "RECORD_MODELS",
    "AccompanimentCase",
    "Address",
    "CanonicalModel",
    "CanonicalRecord",
    "CategoryAssignment",
    "Consent",
    "Contact",
    "Curator",
    "DisabilityStatus",
    "Family",
    "Identifier",
    "Membership",
    "Person",
    "PlannedService",
    "Provenance",
    "ServiceRecord",
]
