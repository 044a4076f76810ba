"""The mapping language: what a ``mappings/<source>.yaml`` may say (validated with pydantic).

A mapping names its source, a version and a format (``xml`` or ``json``), optional XML namespaces (a prefix
may list several URIs: the versions of a format it reads, e.g. EGISSO 1.0.5 and 1.0.6), code tables, and
record specs. A record spec selects records in a payload and emits canonical records::

    records:
      - name: participant
        select: "data[*]"                  # json: dotted path with [*]; xml: element name(s) to stream
        when: {path: resourceType, equals: Patient}
        delete_when: {path: deleted, equals: true}
        emit:
          - kind: person
            id: {template: "{id}"}
            fields:
              family_name: {path: last_name}
              birth_date: {path: birth_date, date: [iso, ru]}
              sex: {path: gender, code: gender}
              identifiers:
                - {kind: snils, value: {path: snils}}      # left out when the SNILS is missing
        deletes:
          - {kind: family, id: {template: "{ns1:assignmentFactUuid}"}}

A *value rule* has exactly one of ``path`` (JMESPath for json, XPath for xml), ``template`` (text with
``{path}`` placeholders; ``{#}`` is the 1-based item number inside ``foreach``; a path starting with ``^``
is read from the record instead of the current item), ``const`` or ``ref`` (the id of a named emit); then
optional transforms applied in this order: ``strip``, ``regex``, ``case``, ``code``, ``date`` or
``decimal``. Scalars in ``fields`` are constants. A list item or nested object whose values are all missing
is left out. An object may say ``within: <path>`` (its paths are relative to that node) and
``use: <block>`` (a named block from ``blocks:``, expanded when the file is loaded: ``mapper.blocks``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.person import EVIDENCE_PARTS

DATE_FORMATS = ("iso", "iso_datetime", "ru")
OnError = Literal["quarantine", "drop", "keep_raw"]
KINDS = ("person", "family", "membership", "case", "service", "disability", "consent")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ConditionSpec(_Spec):
    """A test on a path: ``equals``, ``not_equals``, ``in``, ``not_in`` or ``present``."""

    path: str
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    present: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> ConditionSpec:
        tests = [self.equals, self.not_equals, self.in_, self.not_in, self.present]
        if sum(t is not None for t in tests) != 1:
            raise ValueError("a condition needs exactly one of equals, not_equals, in, not_in, present")
        return self


class ValueRule(_Spec):
    """How to compute one value from a record."""

    path: str | None = None
    template: str | None = None
    const: Any = None
    ref: str | None = Field(
        default=None,
        description="The id of the emit with this name in the same record spec (a membership's person_ref "
                    "is {ref: child}), read where that emit reads it: ids are built once, never retyped.",
    )
    strip: bool = True
    regex: str | None = None
    case: Literal["upper", "lower", "title"] | None = None
    code: str | dict[str, Any] | None = None
    date: list[str] | None = None
    decimal: Literal["comma", "dot"] | None = None
    default: Any = None
    required: bool = False
    on_error: OnError | None = Field(
        default=None,
        description="A value this rule cannot read or transform (or the canonical model refuses): "
                    "quarantine the whole record, drop the value with a warning, or keep the raw text with "
                    "a warning. Unset: the mapping's on_error (drop by default); ids and required values "
                    "always quarantine.",
    )
    on_unknown: OnError | None = Field(
        default=None,
        description="A value that is not in the rule's code table (before default): as on_error. Unset: "
                    "the rule's on_error.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ValueRule:
        if sum(x is not None for x in (self.path, self.template, self.const, self.ref)) != 1:
            raise ValueError("a value rule needs exactly one of path, template, const, ref")
        if self.date and self.decimal:
            raise ValueError("a value is either a date or a decimal, not both")
        return self

    @field_validator("date")
    @classmethod
    def _formats(cls, value: list[str] | None) -> list[str] | None:
        for fmt in value or []:
            if fmt not in DATE_FORMATS and "%" not in fmt:
                raise ValueError(f"unknown date format {fmt!r}; use {DATE_FORMATS} or a strptime pattern")
        return value


class EmitSpec(_Spec):
    """One canonical record (or one per ``foreach`` item) made from a source record."""

    kind: Literal["person", "family", "membership", "case", "service", "disability", "consent"]
    name: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$",
                             description="Names the emit so other emits can use its id: {ref: name}.")
    id: ValueRule
    when: ConditionSpec | None = None
    foreach: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    on_delete: Literal["delete", "keep"] = Field(
        default="delete",
        description="When the source record is deleted: delete this canonical record too, or keep it "
                    "(a household shared with other participants).",
    )


class DeleteSpec(_Spec):
    """A canonical record this source record says is gone (e.g. an EGISSO termination)."""

    kind: Literal["person", "family", "membership", "case", "service", "disability", "consent"]
    id: ValueRule


class RecordSpec(_Spec):
    """Which records of a payload this spec handles and what it makes of them."""

    name: str
    select: str | list[str]
    when: ConditionSpec | None = None
    delete_when: ConditionSpec | None = None
    emit: list[EmitSpec] = Field(default_factory=list)
    deletes: list[DeleteSpec] = Field(default_factory=list)

    @property
    def selectors(self) -> list[str]:
        return [self.select] if isinstance(self.select, str) else list(self.select)

    @model_validator(mode="after")
    def _does_something(self) -> RecordSpec:
        if not self.emit and not self.deletes:
            raise ValueError("a record spec needs emit or deletes")
        names = [e.name for e in self.emit if e.name]
        if len(names) != len(set(names)):
            raise ValueError("two emits of a record spec have the same name")
        return self


class CsvOptions(_Spec):
    """How a CSV payload is written (``format: csv``)."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote: str = Field(default='"', min_length=1, max_length=1)
    encoding: str = Field(default="utf-8", description="e.g. utf-8, windows-1251, cp866, koi8-r")
    header: bool = Field(default=True, description="the first row names the columns; else c1, c2, …")

    @field_validator("encoding")
    @classmethod
    def _known(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


class MappingSpec(_Spec):
    """A whole mapping file."""

    mapping: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    source: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    format: Literal["xml", "json", "jsonl", "csv"]
    description: str | None = None
    csv: CsvOptions = Field(default_factory=CsvOptions)
    on_error: OnError = Field(
        default="drop",
        description="What an unusable optional value does when its rule does not say: drop it with a warning "
                    "stored on the staged record (the default: the person is kept), keep its raw text, or "
                    "quarantine the whole record.",
    )
    namespaces: dict[str, str | list[str]] = Field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = Field(default_factory=dict)
    blocks: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named field blocks: {use: name} anywhere in fields puts the block there (its other "
                    "keys override the block's); with within: a base path, one block serves any depth.",
    )
    min_evidence: list[str] | None = Field(
        default=None, min_length=1,
        description="What makes a person someone: alternatives, each parts joined by '+' (family_name, "
                    "given_name, birth_date, shared_identifier, local_identifier); a person carrying none of "
                    "them is quarantined. Default: a name and a second name, a birth date or a shared "
                    "identifier (family_name+given_name, family_name+birth_date, given_name+birth_date, "
                    "family_name+shared_identifier, given_name+shared_identifier).",
    )
    records: list[RecordSpec] = Field(min_length=1)

    @field_validator("min_evidence")
    @classmethod
    def _evidence_parts(cls, rule: list[str] | None) -> list[str] | None:
        for alternative in rule or ():
            unknown = sorted(set(alternative.split("+")) - set(EVIDENCE_PARTS))
            if unknown:
                raise ValueError(f"unknown evidence part(s) {', '.join(unknown)}; known: "
                                 f"{', '.join(EVIDENCE_PARTS)}")
        return rule

    def namespace_choices(self) -> dict[str, list[str]]:
        """prefix → the URIs it may stand for (first match in a document wins)."""
        return {p: [u] if isinstance(u, str) else list(u) for p, u in self.namespaces.items()}
