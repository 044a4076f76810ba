"""What an agency may know now, field by field, and on which legal basis (152-FZ, 442-FZ).

Each pushed field of a source declares its basis in ``config/sources.yaml`` (``push.fields``):

* ``law_442fz`` — interagency social accompaniment: the field goes to the agency whenever the registry
  has a value;
* ``consent`` — only while the person has an active consent (valid today, not withdrawn) naming this
  agency and the field's purpose; otherwise the agency's entry carries the field as null, so a consent
  withdrawn after a disclosure makes the next push send a retraction.

Fields derived from health and disability data cannot be configured with any basis but consent. An
entry is what the agency sees (``source_record_id`` and its fields); the bases, the consent used and the
registry person travel beside it, for the disclosure register.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from connectors.config import PUSH_FIELDS, FieldPolicy, SourceConfig
from registry.entitlement import ActiveConsent, EntitledRow, rows_for
from registry.entitlement import Conn as Conn


@dataclass
class Entry:
    """One source record as the agency is entitled to see it now."""

    source_record_id: str
    values: dict[str, Any]
    person_id: str | None = None
    bases: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    @property
    def visible(self) -> dict[str, Any]:
        return {"source_record_id": self.source_record_id, **self.values}

    @property
    def sha256(self) -> str:
        return entry_hash(self.visible)


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def current(conn: Conn, source: SourceConfig, today: dt.date | None = None) -> list[Entry]:
    """Every person record of ``source`` as the agency may see it now."""
    assert source.push is not None
    policies = {f: source.push.fields[f] for f in PUSH_FIELDS if f in source.push.fields}
    pattern = re.compile(source.push.record_pattern) if source.push.record_pattern else None
    entries = []
    for row in rows_for(conn, source.code, today):
        if pattern is not None and not pattern.search(row.source_record_id):
            continue
        entries.append(_entry(row, policies, source.agency))
    return entries


def _entry(row: EntitledRow, policies: dict[str, FieldPolicy], agency: str) -> Entry:
    full: dict[str, Any] = {
        "registry_person_id": row.person_id,
        "registry_family_id": row.family_id,
        "accompaniment_status": row.accompaniment_status,
        "disability_status": row.disability_status,
    }
    entry = Entry(row.source_record_id, {}, row.person_id)
    for name, policy in policies.items():
        value = full[name]
        if policy.basis == "consent":
            consent = _consent_for(row.consents, agency, policy.purpose or "")
            if consent is None:
                value = None  # no basis tonight: the field is withheld (and retracted if it was sent)
            elif value is not None:
                entry.bases[name] = ("consent", consent.consent_id)
        elif value is not None:
            entry.bases[name] = ("law_442fz", None)
        entry.values[name] = value
    return entry


def _consent_for(consents: tuple[ActiveConsent, ...], agency: str, purpose: str) -> ActiveConsent | None:
    wanted = purpose.strip().casefold()
    return next((c for c in consents if agency in c.receiving_agencies
                 and c.purpose.strip().casefold() == wanted), None)


def retraction(source_record_id: str, fields: list[str]) -> Entry:
    """The entry of a record the agency may no longer see at all: every field null."""
    return Entry(source_record_id, {name: None for name in fields})
