"""Code lists shared by every agency, as enums with their Russian labels.

The value of each member is a stable English code (what is stored and exchanged); ``.label`` is the Russian
label from the regional programmes (``../shared/domain/glossary.md``). The JSON Schema of each enum carries
the labels under ``x-labels`` so that agency IT people see them in ``hub schemas export``.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Annotated, Any

from pydantic import GetJsonSchemaHandler, StringConstraints, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema


class LabeledEnum(StrEnum):
    """A string enum whose members carry a Russian label."""

    label: str

    def __new__(cls, value: str, label: str) -> LabeledEnum:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema = handler.resolve_ref_schema(json_schema)
        json_schema["x-labels"] = {m.value: m.label for m in cls}
        return json_schema

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Code → Russian label, in declaration order."""
        return {m.value: m.label for m in cls}

    def __str__(self) -> str:
        return str(self.value)


class Agency(LabeledEnum):
    SOCIAL_PROTECTION = "social_protection", "социальная защита"
    HEALTH = "health", "здравоохранение"
    EDUCATION = "education", "образование"
    NGO = "ngo", "социально ориентированная НКО"


AGENCY_CODE = r"^[a-z][a-z0-9_]{1,63}$"
AgencyCode = Annotated[str, StringConstraints(pattern=AGENCY_CODE), WithJsonSchema({
    "type": "string", "pattern": AGENCY_CODE,
    "description": "An agency code from config/sources.yaml; the region's four have Russian labels",
    "x-labels": {"social_protection": "социальная защита", "health": "здравоохранение",
                 "education": "образование", "ngo": "социально ориентированная НКО"},
})]
"""Any agency the deployment configures (agencies are data): a lower-case code; ``Agency`` labels the four
the programmes name."""


class Sex(LabeledEnum):
    MALE = "male", "мужской"
    FEMALE = "female", "женский"


class IdentifierKind(LabeledEnum):
    SNILS = "snils", "СНИЛС"
    PASSPORT_RF = "passport_rf", "паспорт гражданина РФ"
    BIRTH_CERTIFICATE = "birth_certificate", "свидетельство о рождении"
    OMS_POLICY = "oms_policy", "полис ОМС"
    LOCAL = "local", "идентификатор ведомственной системы"


class AddressKind(LabeledEnum):
    REGISTRATION = "registration", "адрес регистрации"
    RESIDENCE = "residence", "адрес фактического проживания"


class ContactKind(LabeledEnum):
    PHONE = "phone", "телефон"
    EMAIL = "email", "электронная почта"


class MembershipRole(LabeledEnum):
    MOTHER = "mother", "мать"
    FATHER = "father", "отец"
    GUARDIAN = "guardian", "опекун (попечитель)"
    FOSTER_PARENT = "foster_parent", "приемный родитель"
    CHILD = "child", "ребенок"
    OTHER_RELATIVE = "other_relative", "другой родственник"


class FamilyCategory(LabeledEnum):
    FOSTER = "foster", "замещающая семья"
    DISABLED_CHILDREN = "disabled_children", "семья, воспитывающая детей-инвалидов"
    SPECIAL_NEEDS_0_3 = (
        "special_needs_0_3",
        "семья, воспитывающая детей с ограниченными возможностями здоровья (ОВЗ) "
        "в возрасте от рождения до 3 лет",
    )
    LARGE = "large", "многодетная семья"
    LOW_INCOME = "low_income", "малообеспеченная семья (с низким уровнем дохода)"
    INTENDS_TO_GIVE_UP_CHILD = (
        "intends_to_give_up_child",
        "семья, имеющая намерение отказаться от ребенка (в т.ч. от новорожденного)",
    )
    SINGLE_PARENT = "single_parent", "семья с одним родителем, воспитывающим несовершеннолетних детей"
    SOCIALLY_DANGEROUS = "socially_dangerous", "семья, находящаяся в социально опасном положении"
    MIGRANTS_REFUGEES = "migrants_refugees", "семья переселенцев, беженцев, мигрантов"
    PARENTAL_DEPENDENCE = (
        "parental_dependence",
        "семья, в которой один или оба родителя страдают алкогольной или наркотической зависимостью",
    )
    CHILD_IN_CONFLICT_WITH_LAW = (
        "child_in_conflict_with_law",
        "семья, в которой несовершеннолетний находится в конфликте с законом",
    )
    WOMEN_IN_DIFFICULT_SITUATION = (
        "women_in_difficult_situation",
        "женщины с детьми и беременные, находящиеся в трудной жизненной ситуации",
    )


class AccompanimentLevel(LabeledEnum):
    ADAPTATION = "adaptation", "адаптационный"
    BASIC = "basic", "базовый (профилактический)"
    CRISIS = "crisis", "кризисный"
    EMERGENCY = "emergency", "экстренный"


class AccompanimentStage(LabeledEnum):
    DIAGNOSTIC = "diagnostic", "диагностико-поисковый"
    CONTRACT = "contract", "договорный"
    ACTIVITY = "activity", "деятельностный"
    REFLECTION = "reflection", "рефлексивный"
    POST_ACCOMPANIMENT = "post_accompaniment", "поддерживающий (постсопровождение)"


class ClosureReason(LabeledEnum):
    POSITIVE_DYNAMICS = "positive_dynamics", "в связи с положительной динамикой"
    GOALS_ACHIEVED = "goals_achieved", "цели индивидуальной программы достигнуты"
    FAMILY_REFUSED = "family_refused", "отказ семьи от сопровождения"
    MOVED_AWAY = "moved_away", "выезд за пределы региона"
    CHILD_CAME_OF_AGE = "child_came_of_age", "достижение ребенком совершеннолетия"
    OTHER = "other", "иная причина"


class ServiceKind(LabeledEnum):
    INFORMATIONAL = "informational", "информационные"
    PSYCHOLOGICAL = "psychological", "психологические"
    SOCIO_PEDAGOGICAL = "socio_pedagogical", "социально-педагогические"
    SOCIO_MEDICAL = "socio_medical", "социально-медицинские"
    LEGAL = "legal", "юридические"
    SOCIO_ECONOMIC = "socio_economic", "социально-экономические"


class ServiceStatus(LabeledEnum):
    PLANNED = "planned", "запланирована"
    IN_PROGRESS = "in_progress", "оказывается"
    DELIVERED = "delivered", "оказана"
    CANCELLED = "cancelled", "отменена"


class HealthStatusKind(LabeledEnum):
    DISABILITY = "disability", "ребенок-инвалид"
    SPECIAL_NEEDS = "special_needs", "ограниченные возможности здоровья (ОВЗ)"


def enum_values(enum_cls: type[Enum]) -> list[Any]:
    """The codes of an enum, for error messages that list what is allowed."""
    return [m.value for m in enum_cls]
