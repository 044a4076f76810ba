"""Person: names, birth date, sex, identifiers, addresses and contacts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from schemas import identifiers as ids
from schemas.base import CanonicalModel, PastDate, PersonName, Provenance, SystemCode, not_mojibake
from schemas.codes import AddressKind, ContactKind, IdentifierKind, Sex
from schemas.privacy import shape

_NORMALIZERS = {
    IdentifierKind.SNILS: ids.normalize_snils,
    IdentifierKind.PASSPORT_RF: ids.normalize_passport_rf,
    IdentifierKind.BIRTH_CERTIFICATE: ids.normalize_birth_certificate,
    IdentifierKind.OMS_POLICY: ids.normalize_oms_policy,
    IdentifierKind.LOCAL: ids.normalize_local,
}
_POSTAL = re.compile(r"^(?=[A-Z0-9 \-]*\d)[A-Z0-9](?:[A-Z0-9]|[ \-](?=[A-Z0-9])){1,9}$")
"""A Russian index (six digits) or another country's postcode: 2–10 letters and digits, at least one digit,
single spaces or hyphens between them (SW1A 1AA, 75008, 1010-123, 00-950); stored upper case, single-spaced.
"""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Free-text limits: generous for any real address, far below what bloats a record (every version is kept).
AddressLine = Annotated[str, Field(max_length=500), AfterValidator(not_mojibake)]
"""An agency's one-line address."""
AddressPart = Annotated[str, Field(max_length=200), AfterValidator(not_mojibake)]
"""A named part of an address: region, district, locality, street."""
HouseNumber = Annotated[str, Field(max_length=50)]
"""A house, building or apartment number ("104", "12А", "корп. 2")."""


class Identifier(CanonicalModel):
    """An identifier in canonical form; ``system`` names the issuing agency system for ``local`` ids."""

    kind: IdentifierKind
    value: str
    system: SystemCode | None = None

    @field_validator("value")
    @classmethod
    def _normalise(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        return _NORMALIZERS[kind](value) if kind is not None else value

    @model_validator(mode="after")
    def _local_has_system(self) -> Identifier:
        if self.kind is IdentifierKind.LOCAL and self.system is None:
            raise ValueError("local identifier needs the 'system' that issued it")
        return self


class Address(CanonicalModel):
    """A postal address in the region; ``text`` keeps the agency's one-line form when it has no parts."""

    kind: AddressKind = AddressKind.RESIDENCE
    postal_code: str | None = None
    region: AddressPart | None = None
    district: AddressPart | None = None
    locality: AddressPart | None = Field(default=None, description="City, town or village.")
    street: AddressPart | None = None
    house: HouseNumber | None = None
    building: HouseNumber | None = None
    apartment: HouseNumber | None = None
    text: AddressLine | None = None
    valid_from: dt.date | None = None

    @field_validator("postal_code")
    @classmethod
    def _postal(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = " ".join(value.upper().split())
        if not _POSTAL.match(code):
            raise ValueError(f"expected a postcode (6 digits in Russia), got shape {shape(value)!r}")
        return code

    @model_validator(mode="after")
    def _has_content(self) -> Address:
        if not (self.text or self.locality or self.street):
            raise ValueError("address needs a locality, a street or a one-line text")
        return self


class Contact(CanonicalModel):
    """A phone (normalised to +7XXXXXXXXXX) or an e-mail address."""

    kind: ContactKind
    value: str = Field(max_length=254)  # the longest e-mail address; phones are normalised to 12

    @field_validator("value")
    @classmethod
    def _normalise(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is ContactKind.PHONE:
            return _normalise_phone(value)
        if kind is ContactKind.EMAIL and not _EMAIL.match(value):
            raise ValueError(f"not an e-mail address (shape {shape(value)!r})")
        return value


def _normalise_phone(raw: str) -> str:
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10:
        return "+7" + digits
    raise ValueError(f"expected a Russian phone number of 10 or 11 digits, got shape {shape(raw)!r}")


EVIDENCE_PARTS = ("family_name", "given_name", "birth_date", "shared_identifier", "local_identifier")
"""What a ``min_evidence`` alternative is made of (``family_name+birth_date``): a shared identifier is any
but ``local`` (SNILS, OMS policy, passport, birth certificate); a local one is the agency's own number."""


def staged_person(canonical: dict[str, Any]) -> Person:
    """A person read back from staging: validated, but not held to the default minimum evidence again (a
    mapping with a looser ``min_evidence`` staged it)."""
    return Person.model_validate(canonical, context={"staged": True})


def evidence_of(person: Person) -> set[str]:
    """The ``EVIDENCE_PARTS`` the person carries."""
    present = {name for name in ("family_name", "given_name", "birth_date") if getattr(person, name)}
    for ident in person.identifiers:
        present.add("local_identifier" if ident.kind is IdentifierKind.LOCAL else "shared_identifier")
    return present


class Person(CanonicalModel):
    """A person as one agency knows them."""

    record_kind: Literal["person"] = "person"
    provenance: Provenance
    family_name: PersonName | None = None
    given_name: PersonName | None = None
    patronymic: PersonName | None = None
    birth_date: PastDate | None = None
    sex: Sex | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_identifier_per_kind(self) -> Person:
        seen: set[tuple[IdentifierKind, str | None]] = set()
        for ident in self.identifiers:
            key = (ident.kind, ident.system)
            if key in seen and ident.kind is not IdentifierKind.LOCAL:
                raise ValueError(f"identifiers: more than one {ident.kind.value}")
            seen.add(key)
        return self

    @model_validator(mode="after")
    def _identifies_someone(self, info: ValidationInfo) -> Person:
        """Minimum evidence: by default a name, and a second name, a birth date or a shared identifier.

        Registers often lack a given name or a surname; such a person is still someone when another part
        of the record points at them (Smith + 1990-01-01, or a SNILS + "Anna"). A record with no name, or a
        lone name, identifies nobody and is refused (quarantined with its bytes). A mapping may set its own
        rule (``min_evidence:``), handed in as the validation context's ``min_evidence``.
        """
        context = (info.context or {}) if info is not None else {}
        if context.get("staged"):
            return self  # read back from staging: its mapping's rule (maybe looser) admitted it already
        rule = context.get("min_evidence")
        present = evidence_of(self)
        if rule is None:
            names = present & {"family_name", "given_name"}
            if not names:
                raise ValueError("identifies nobody: neither a family name nor a given name")
            if len(names) == 1 and not present & {"birth_date", "shared_identifier"}:
                raise ValueError("identifies nobody: one name without a birth date or a shared identifier")
        elif not any(set(alternative.split("+")) <= present for alternative in rule):
            carried = "+".join(p for p in EVIDENCE_PARTS if p in present) or "nothing"
            raise ValueError(f"identifies nobody: carries {carried}; the mapping's min_evidence asks for one "
                             f"of {', '.join(rule)}")
        return self

    def identifier(self, kind: IdentifierKind) -> str | None:
        """The canonical value of the person's identifier of ``kind``, if any."""
        return next((i.value for i in self.identifiers if i.kind is kind), None)
