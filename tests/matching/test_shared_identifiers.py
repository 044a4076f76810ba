"""Source-declared shared identifiers: a number several agencies carry links two records by rule.

Declared in the sources file (``shared_identifiers:``), sent by mappings as ``{kind: local, system: …}``.
An undeclared system, a value off its declared format, a placeholder or disagreeing birth dates link
nothing; an untrusted declaration is no rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import config as source_config
from matching.features import person_features
from matching.rules import rule_edges
from schemas import Person
from schemas.base import Provenance
from tests.matching.levels import level_of


@pytest.fixture
def declared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": {}, "shared_identifiers": [
        {"system": "social_id", "pattern": r"^\d{9}$"},
        {"system": "club_card", "trusted": False}]}), "utf-8")
    monkeypatch.setenv("HUB_SOURCES", str(path))
    source_config._shared.cache_clear()


def _row(source: str, rid: str, system: str, value: str, born: str = "1990-04-05") -> dict[str, Any]:
    person = Person.model_validate({
        "provenance": Provenance(source_system=f"agency_{source}", source_record_id=rid, mapping_version="t"),
        "family_name": "Smith" if source == "a" else "Smyth", "given_name": "Elizabeth", "birth_date": born,
        "identifiers": [{"kind": "local", "system": system, "value": value}]})
    return person_features(f"{source}|{rid}", source, person)


@pytest.mark.usefixtures("declared")
def test_an_equal_declared_number_links_by_rule() -> None:
    new, old = _row("a", "1", "social_id", "123 456 78-9"), _row("b", "9", "social_id", "123456789")
    edges = rule_edges([new], [old], 8)
    assert [(e.left, e.right, e.explanation["rule"]) for e in edges] == [
        ("a|1", "b|9", "equal shared identifier")]


@pytest.mark.usefixtures("declared")
@pytest.mark.parametrize(("left", "right"), [
    (("social_id", "123456789", "1990-04-05"), ("social_id", "123456789", "1971-01-02")),  # dates disagree
    (("social_id", "12345678", "1990-04-05"), ("social_id", "12345678", "1990-04-05")),    # off its format
    (("social_id", "000000000", "1990-04-05"), ("social_id", "000000000", "1990-04-05")),  # a placeholder
    (("club_card", "55501", "1990-04-05"), ("club_card", "55501", "1990-04-05")),          # untrusted
    (("member_no", "55501", "1990-04-05"), ("member_no", "55501", "1990-04-05")),          # undeclared
])
def test_no_link_without_trusted_evidence(left: tuple[str, str, str], right: tuple[str, str, str]) -> None:
    a, b = _row("a", "1", left[0], left[1], left[2]), _row("b", "9", right[0], right[1], right[2])
    assert rule_edges([a], [b], 8) == []


@pytest.mark.usefixtures("declared")
@pytest.mark.parametrize(("system", "value", "number"), [
    ("social_id", "123 456 78-9", "social_id:123456789"),  # trusted: a rule and a model column
    ("club_card", "55501", "club_card:55501"),             # untrusted: the model's column only
    ("social_id", "12345678", None),                       # off its format
    ("member_no", "55501", None),                          # undeclared
])
def test_every_declared_number_is_a_model_column(system: str, value: str, number: str | None) -> None:
    row = _row("a", "1", system, value)
    assert row["shared_number"] == number
    assert row["shared_id"] == (number if system == "social_id" else None)


@pytest.mark.usefixtures("declared")
@pytest.mark.parametrize(("left", "right", "level"), [
    (("club_card", "55501"), ("club_card", "55501"), "Exact match on shared_number"),
    (("club_card", "55501"), ("club_card", "55510"), "one typo apart (Damerau-Levenshtein <= 1)"),
    (("club_card", "55501"), ("club_card", "55601"), "one typo apart (Damerau-Levenshtein <= 1)"),
    (("club_card", "55501"), ("club_card", "65510"), "All other comparisons"),
    (("club_card", "123456789"), ("social_id", "123456789"), "All other comparisons"),  # other systems
    (("club_card", "55501"), ("member_no", "55501"), "null"),                            # undeclared
])
def test_a_typo_in_a_shared_number_is_a_level_of_its_own(
    left: tuple[str, str], right: tuple[str, str], level: str
) -> None:
    a, b = _row("a", "1", *left), _row("b", "9", *right)
    assert level_of(a, b, "shared_number") == level
