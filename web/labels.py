"""Russian names of what the pages show: registry attributes, model comparisons, and values as text."""

from __future__ import annotations

from typing import Any

from schemas.codes import (
    AccompanimentLevel,
    AccompanimentStage,
    Agency,
    ClosureReason,
    FamilyCategory,
    IdentifierKind,
    MembershipRole,
    ServiceKind,
    Sex,
)

ATTRIBUTES = {
    "family_name": "фамилия",
    "given_name": "имя",
    "patronymic": "отчество",
    "birth_date": "дата рождения",
    "sex": "пол",
    **{kind: label for kind, label in IdentifierKind.labels().items() if kind != "local"},
    "address": "адрес",
    "phone": "телефон",
    "email": "электронная почта",
}
COMPARISONS = {  # the person model's comparisons (matching/model.py), as a steward reads them
    "name": "фамилия и имя", "patronymic": "отчество", "birth_date": "дата рождения", "sex_std": "пол",
    "snils": "СНИЛС", "oms": "полис ОМС", "birth_cert": "свидетельство о рождении", "address": "адрес",
    "shared_id": "общий идентификатор источников",
}
CODES: dict[str, dict[str, str]] = {
    "category": {**FamilyCategory.labels(), "none": "категория не указана"},
    "level": AccompanimentLevel.labels(),
    "stage": AccompanimentStage.labels(),
    "reason": {**ClosureReason.labels(), "unknown": "причина не указана"},
    "kind": ServiceKind.labels(),
    "agency": Agency.labels(),
    "role": MembershipRole.labels(),
    "commission": {"none": "комиссия не указана (случай на диагностике)"},
    "group": {"none": "рабочая группа не указана (случай на диагностике)"},
}
_ADDRESS_PARTS = ("postal_code", "region", "district", "locality", "street", "house", "building", "flat")


def code(kind: str, value: Any) -> str:
    """The Russian label of a code (a category, level, stage, role…), else the code itself."""
    return CODES.get(kind, {}).get(str(value), str(value))


def attribute(name: str) -> str:
    return ATTRIBUTES.get(name, name)


def address(value: dict[str, Any]) -> str | None:
    if value.get("text"):
        return str(value["text"])
    return ", ".join(str(value[p]) for p in _ADDRESS_PARTS if value.get(p)) or None


def human(value: Any) -> str:
    """A registry value as a person reads it (an address as one line, codes as their labels)."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        parts = (f"{k}: {human(v)}" for k, v in value.items() if v not in (None, ""))
        return address(value) or ", ".join(parts)
    if isinstance(value, list):
        return "; ".join(human(v) for v in value)
    return Sex.labels().get(str(value), str(value))
