"""Accompaniment cases, services, a child's disability/special-needs status, and consent.

``DisabilityStatus`` is health data: its JSON Schema is marked ``x-confidential: health`` and it never goes
to logs, lineage events or pushes to agencies not entitled to it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from schemas.base import CanonicalModel, PastDate, Provenance, SourceRef, check_period
from schemas.codes import (
    AccompanimentLevel,
    AccompanimentStage,
    AgencyCode,
    ClosureReason,
    HealthStatusKind,
    ServiceKind,
    ServiceStatus,
)


class Curator(CanonicalModel):
    """The specialist who leads a family's accompaniment (куратор)."""

    name: str = Field(min_length=1, max_length=200)
    organisation: str | None = None
    agency: AgencyCode | None = None


class PlannedService(CanonicalModel):
    """One line of the individual programme (индивидуальная программа)."""

    kind: ServiceKind
    provider_agency: AgencyCode | None = None
    provider_org: str | None = None
    description: str | None = None
    planned_from: dt.date | None = None
    planned_to: dt.date | None = None

    @model_validator(mode="after")
    def _period(self) -> PlannedService:
        check_period(self.planned_from, self.planned_to, "planned_from", "planned_to")
        return self


class AccompanimentCase(CanonicalModel):
    """A family's social accompaniment: level, stage, curator and individual programme."""

    record_kind: Literal["case"] = "case"
    provenance: Provenance
    family_ref: SourceRef
    level: AccompanimentLevel
    stage: AccompanimentStage
    curator: Curator | None = None
    district_commission: str | None = Field(
        default=None, max_length=200,
        description="The district social commission (участковая социальная комиссия) that drew up the plan.")
    working_group: str | None = Field(
        default=None, max_length=200,
        description="The interagency working group (межведомственная рабочая группа) that approved the "
                    "individual programme.")
    individual_programme: list[PlannedService] = Field(default_factory=list)
    contract_date: dt.date | None = None
    opened_on: dt.date
    closed_on: dt.date | None = None
    closure_reason: ClosureReason | None = None

    @model_validator(mode="after")
    def _dates(self) -> AccompanimentCase:
        check_period(self.opened_on, self.closed_on, "opened_on", "closed_on")
        check_period(self.opened_on, self.contract_date, "opened_on", "contract_date")
        if self.closure_reason is not None and self.closed_on is None:
            raise ValueError("closure_reason is set but closed_on is empty")
        return self


class ServiceRecord(CanonicalModel):
    """A service delivered (or planned) by an agency to a person or a family."""

    record_kind: Literal["service"] = "service"
    provenance: Provenance
    kind: ServiceKind
    provider_agency: AgencyCode
    provider_org: str | None = None
    person_ref: SourceRef | None = None
    family_ref: SourceRef | None = None
    case_ref: SourceRef | None = None
    started_on: dt.date
    ended_on: dt.date | None = None
    status: ServiceStatus = ServiceStatus.DELIVERED
    outcome: str | None = None
    amount: Decimal | None = Field(default=None, ge=0, description="Monthly amount of a cash measure, RUB.")

    @model_validator(mode="after")
    def _links_and_dates(self) -> ServiceRecord:
        if self.person_ref is None and self.family_ref is None:
            raise ValueError("a service needs person_ref or family_ref")
        check_period(self.started_on, self.ended_on, "started_on", "ended_on")
        return self


class DisabilityStatus(CanonicalModel):
    """A child's disability (ребенок-инвалид) or special-needs (ОВЗ) status over a period."""

    model_config = ConfigDict(json_schema_extra={"x-confidential": "health"})

    record_kind: Literal["disability"] = "disability"
    provenance: Provenance
    person_ref: SourceRef
    kind: HealthStatusKind
    established_on: PastDate | None = None
    valid_until: dt.date | None = None
    basis: str | None = Field(
        default=None, description="Document that established it (МСЭ certificate, ПМПК conclusion)."
    )

    @model_validator(mode="after")
    def _period(self) -> DisabilityStatus:
        check_period(self.established_on, self.valid_until, "established_on", "valid_until")
        return self


class Consent(CanonicalModel):
    """A person's consent to share their data with the named agencies for a purpose and period."""

    record_kind: Literal["consent"] = "consent"
    provenance: Provenance
    person_ref: SourceRef
    receiving_agencies: list[AgencyCode] = Field(min_length=1)
    purpose: str = Field(min_length=1, max_length=500)
    valid_from: dt.date
    valid_to: dt.date | None = None
    withdrawn_on: dt.date | None = None

    @model_validator(mode="after")
    def _period(self) -> Consent:
        check_period(self.valid_from, self.valid_to, "valid_from", "valid_to")
        check_period(self.valid_from, self.withdrawn_on, "valid_from", "withdrawn_on")
        return self
