"""``hub mapping check`` walks an XML mapping's paths through its source's XSDs.

The real mappings fit their real XSDs; a copy of the social-protection mapping with one mistake at a time
(an element misspelt inside a block, an attribute, a ``within`` base, a record element) is refused with the
file line, the path and what the XSD has there. A step that exists in one EGISSO version only is fine, and
expressions that are not plain location paths are not judged.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from connectors.config import source_for_mapping
from mapper import load_mapping
from mapper.xsd_paths import check_against_xsd

ROOT = Path(__file__).resolve().parents[2]
SP = ROOT / "mappings" / "social_protection.yaml"


def _problems(path: Path) -> list[str]:
    mapping = load_mapping(path)
    source = source_for_mapping(mapping.source)
    assert source is not None
    return [msg for _loc, msg in check_against_xsd(mapping.spec, source.xsd_paths())]


@pytest.mark.parametrize("name", ["social_protection", "education"])
def test_the_real_mappings_fit_their_xsds(name: str) -> None:
    assert _problems(ROOT / "mappings" / f"{name}.yaml") == []


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('family_name: {path: "smev:FamilyName"}', 'family_name: {path: "smev:FamilyNam"}',
     "'smev:FamilyNam': no element smev:FamilyNam in "),
    ('delete_when: {path: "@status", equals: closed}', 'delete_when: {path: "@statsu", equals: closed}',
     "'@statsu': no attribute @statsu on szn:family (it has: id, status, updated)"),
    ('within: "prsn:IdentityDoc/basic:PassportRF"', 'within: "prsn:IdentityDoc/basic:Passport"',
     "'prsn:IdentityDoc/basic:Passport': no element basic:Passport in prsn:IdentityDoc"),
    ('select: "szn:family"', 'select: "szn:familie"', "'szn:familie' is not an element of the source's XSDs"),
    ('{path: "af:oszCode"}', '{path: "af:oszCode/af:region"}', "no element af:region in af:oszCode (it has: "
     "no child elements)"),
])
def test_a_misspelt_path_is_named_with_its_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = SP.read_text("utf-8")
    assert old in text
    copy = tmp_path / "social_protection.yaml"
    copy.write_text(text.replace(old, new, 1), "utf-8")
    problems = _problems(copy)
    assert problems, "the mistake was not found"
    assert any(expected in p for p in problems), problems


def test_steps_of_one_version_and_unjudged_expressions_pass(tmp_path: Path) -> None:
    text = SP.read_text("utf-8")
    assert '"pkg:terminationBasedOnEndOfRight"' in text  # 1.0.6 only: fits one XSD, so it fits
    unjudged = 'provider_org: {path: "concat(af:oszCode, \'-\')"}'
    text = text.replace('provider_org: {path: "af:oszCode"}', unjudged)
    copy = tmp_path / "social_protection.yaml"
    copy.write_text(text, "utf-8")
    assert _problems(copy) == []


def test_the_cli_fails_with_the_line_and_a_one_line_error(tmp_path: Path, hub_cli: list[str]) -> None:
    copy = tmp_path / "social_protection.yaml"
    copy.write_text(SP.read_text("utf-8").replace('{path: "szn:lastName"}', '{path: "szn:surname"}'), "utf-8")
    done = subprocess.run([*hub_cli, "mapping", "check", str(copy)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 1
    line = next(i for i, t in enumerate(copy.read_text("utf-8").splitlines(), 1) if "szn:surname" in t)
    where = f"social_protection.yaml:{line}: records.4.emit.1.fields.family_name.path"
    assert f"{where}: 'szn:surname'" in done.stdout
    assert done.stderr.strip().splitlines() == [
        "error: social_protection.yaml: 1 path(s) do not fit the XSDs of source 'social_protection'"]
    assert "Traceback" not in done.stderr


def test_an_unreadable_xsd_is_one_line_not_a_verdict_on_the_paths(tmp_path: Path, hub_cli: list[str]) -> None:
    sources = (ROOT / "config" / "sources.yaml").read_text("utf-8").replace(
        "schemas/xsd/social_protection/accompaniment-1.0.xsd", "schemas/xsd/missing.xsd")
    (tmp_path / "sources.yaml").write_text(sources, "utf-8")
    env = {**os.environ, "HUB_SOURCES": str(tmp_path / "sources.yaml")}
    done = subprocess.run([*hub_cli, "mapping", "check", str(SP)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)
    assert done.returncode == 1
    assert "cannot be read" in done.stdout
    assert done.stderr.strip().splitlines() == ["error: social_protection.yaml: the XSDs of source "
                                                "'social_protection' cannot be read; no path was checked"]
