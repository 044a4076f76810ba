"""Family (household), its categories, and the membership of persons in it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from schemas.base import CanonicalModel, Provenance, SourceRef, check_period
from schemas.codes import FamilyCategory, MembershipRole
from schemas.person import Address


class CategoryAssignment(CanonicalModel):
    """A family category with the period it applied (open-ended when ``until`` is empty)."""

    category: FamilyCategory
    since: dt.date | None = None
    until: dt.date | None = None

    @model_validator(mode="after")
    def _period(self) -> CategoryAssignment:
        check_period(self.since, self.until, "since", "until")
        return self


class Family(CanonicalModel):
    """A household as one agency knows it."""

    record_kind: Literal["family"] = "family"
    provenance: Provenance
    categories: list[CategoryAssignment] = Field(default_factory=list)
    address: Address | None = None

    @model_validator(mode="after")
    def _categories_unique(self) -> Family:
        open_codes = [c.category for c in self.categories if c.until is None]
        if len(open_codes) != len(set(open_codes)):
            raise ValueError("categories: the same category is open twice")
        return self


class Membership(CanonicalModel):
    """A person's role in a family over a period; references are source record ids of the same source."""

    record_kind: Literal["membership"] = "membership"
    provenance: Provenance
    family_ref: SourceRef
    person_ref: SourceRef
    role: MembershipRole
    period_from: dt.date | None = None
    period_to: dt.date | None = None

    @model_validator(mode="after")
    def _period(self) -> Membership:
        check_period(self.period_from, self.period_to, "period_from", "period_to")
        return self
