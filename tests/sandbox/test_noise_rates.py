"""Noise: observed rates match the configuration, and the noise the truth reports is really in the output.

One 2,000-family sandbox (night 1) serves every test. Two independent checks:

* rates — ``truth/night-0001/noise.json`` counts, per source and kind, the records that could get the noise
  (eligible) and those that got it (applied); ``applied / eligible`` must lie within ``SIGMAS`` binomial
  standard deviations of the rate in ``sandbox.json`` wherever ``eligible`` is large enough for that to mean
  something, and a kind configured at 0 must never be applied;
* output — every person record the agencies wrote is read back from its own format (NGO JSON, FHIR
  NDJSON, SMEV XML, EGISSO and the social-protection export) and compared with the true person of its truth
  row: the kinds the truth lists must be visible (a Latin name is ASCII, a missing patronymic is absent, a
  swapped birth date is the true one with day and month exchanged …), and a record with no noise of a kind
  must carry the true value. So a counter that counts noise the emitters never apply, or noise applied
  without being reported, both fail.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs and lxml-stubs is not pinned

import sandbox.generate
from sandbox import names
from sandbox.emit import one_line_address
from sandbox.formats import egisso
from sandbox.formats.education import read_students_batch
from sandbox.formats.fhir import SYSTEM_SNILS
from sandbox.formats.szn_accompaniment import SZN_NS
from sandbox.noise import ICAO, INFORMAL, NoiseRates, transliterate
from sandbox.population import TrueFamily, TruePerson

SEED = 11
FAMILIES = 2_000
SIGMAS = 4.0
MIN_ELIGIBLE = 200
SOURCES = ("social_protection", "health", "education", "ngo")
# Noise that changes how the name is written; the exact-value checks below need it to act alone.
NAME_NOISE = frozenset({"typo", "yo_to_e", "case", "swap_names", "missing_patronymic", "maiden_name", "latin",
                        "diminutive"})
# Kinds whose effect on a record these tests can see, per source (given a rate above 0 there).
VISIBLE = frozenset({*NAME_NOISE, "day_month_swap", "date_format", "missing_id", "id_format"})
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
RU_DATE = re.compile(r"\d{2}\.\d{2}\.\d{4}")


@dataclass(frozen=True)
class Emitted:
    """A person as one source record wrote them (``None``: the record has no such field or value)."""

    family_name: str
    given_name: str
    patronymic: str | None
    birth_date: dt.date | None
    snils: str | None
    birth_date_text: str | None = None  # only the NGO types dates as text
    address: str | None = None  # only the NGO's one-line address is compared


@dataclass
class Sandbox:
    """What the tests read from the sandbox once."""

    root: Path
    rates: dict[str, NoiseRates]
    counts: dict[str, dict[str, dict[str, int]]]
    truth: list[dict[str, Any]]
    persons: dict[str, TruePerson]
    families: dict[str, TrueFamily]
    records: dict[str, dict[str, Emitted]]


# ------------------------------------------------------------------------------------------------- readers


def _iso(text: str | None) -> dt.date | None:
    # EGISSO dates carry the region's offset (``2020-05-01+03:00``): the date is the first ten characters.
    return None if text is None else dt.date.fromisoformat(text[:10])


def _ngo(root: Path) -> dict[str, Emitted]:
    out = {}
    for path in sorted((root / "ngo" / "night-0001").glob("participants-*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            r = json.loads(line)
            text = r["birth_date"]
            born = dt.datetime.strptime(text, "%d.%m.%Y").date() if RU_DATE.fullmatch(text) else _iso(text)
            out[str(r["id"])] = Emitted(r["last_name"], r["first_name"], r["middle_name"], born, r["snils"],
                                        text, r["address"])
    return out


def _health(root: Path) -> dict[str, Emitted]:
    out = {}
    for path in sorted((root / "health" / "night-0001").glob("resources-*.ndjson")):
        for line in path.read_text("utf-8").splitlines():
            r = json.loads(line)
            if r["resourceType"] not in ("Patient", "RelatedPerson"):
                continue
            name = r["name"][0]
            given = name["given"]  # [имя, отчество]: the source's convention
            snils = next((i["value"] for i in r.get("identifier", []) if i["system"] == SYSTEM_SNILS), None)
            patronymic = given[1] if len(given) > 1 else None
            out[f"{r['resourceType']}/{r['id']}"] = Emitted(name["family"], given[0], patronymic,
                                                            _iso(r.get("birthDate")), snils)
    return out


def _education(root: Path) -> dict[str, Emitted]:
    out = {}
    for path in sorted((root / "education" / "night-0001").glob("batch-*.xml")):
        for s in read_students_batch(etree.fromstring(path.read_bytes())).students:
            out[s.student_id] = Emitted(s.family_name, s.first_name, s.patronymic, s.birth_date, s.snils)
            for r in s.representatives:
                out[r.representative_id] = Emitted(r.family_name, r.first_name, r.patronymic, r.birth_date,
                                                   r.snils)
    return out


def _egisso_person(element: Any) -> Emitted:
    def text(ns: str, local: str) -> str | None:
        value: str | None = element.findtext(f"{{{ns}}}{local}")
        return value

    return Emitted(text(egisso.SMEV_NS, "FamilyName") or "", text(egisso.SMEV_NS, "FirstName") or "",
                   text(egisso.SMEV_NS, "Patronymic"), _iso(text(egisso.PERSON_NS, "BirthDate")),
                   text(egisso.PERSON_NS, "SNILS"))


def _social_protection(root: Path) -> dict[str, Emitted]:
    out = {}
    fact_ns = egisso.FACT_NS
    for path in sorted((root / "social_protection" / "drop").glob("SZN_*_egisso_*.xml")):
        doc = etree.fromstring(path.read_bytes())
        package = next(ns for ns in egisso.PACKAGE_NS.values() if doc.find(f".//{{{ns}}}fact") is not None)
        for fact in doc.iter(f"{{{package}}}fact"):
            uuid = fact.findtext(f"{{{package}}}uuid")
            out[f"{uuid}/receiver"] = _egisso_person(fact.find(f"{{{fact_ns}}}mszReceiver"))
            reasons = fact.findall(f"{{{fact_ns}}}reasonPersons/{{{egisso.PERSON_NS}}}prsnInfo")
            for n, reason in enumerate(reasons, start=1):
                out[f"{uuid}/reason/{n}"] = _egisso_person(reason)
    for path in sorted((root / "social_protection" / "drop").glob("SZN_*_cases_*.xml")):
        for m in etree.fromstring(path.read_bytes()).iter(f"{{{SZN_NS}}}member"):
            def text(local: str, member: Any = m) -> str | None:
                value: str | None = member.findtext(f"{{{SZN_NS}}}{local}")
                return value

            out[m.get("id")] = Emitted(text("lastName") or "", text("firstName") or "", text("middleName"),
                                       _iso(text("birthDate")), text("snils"))
    return out


READERS: dict[str, Callable[[Path], dict[str, Emitted]]] = {
    "social_protection": _social_protection, "health": _health, "education": _education, "ngo": _ngo,
}


@pytest.fixture(scope="module")
def sbx(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    root = tmp_path_factory.mktemp("noise") / "sbx"
    with pytest.MonkeyPatch.context() as patch:
        # Two chunks, so that two workers halve the wall time (the output is the same either way).
        patch.setattr(sandbox.generate, "CHUNK", FAMILIES // 2)
        sandbox.generate.generate(root, FAMILIES, SEED, workers=2)
    config = json.loads((root / "sandbox.json").read_text("utf-8"))
    night = root / "truth" / "night-0001"
    truth = [json.loads(line) for p in sorted(night.glob("records-*.jsonl"))
             for line in p.read_text("utf-8").splitlines()]
    chunks = sandbox.generate.world_chunks(root)
    families = {f.fid: f for c in chunks for f in sandbox.generate.read_world_chunk(root, c)}
    return Sandbox(
        root=root,
        rates={s: NoiseRates.from_dict(r) for s, r in config["rates"].items()},
        counts=json.loads((night / "noise.json").read_text("utf-8")),
        truth=truth,
        persons={p.pid: p for f in families.values() for p in f.persons},
        families=families,
        records={source: read(root) for source, read in READERS.items()},
    )


# ---------------------------------------------------------------------------------------------------- rates


def test_observed_rates_are_within_binomial_tolerance_of_the_configuration(sbx: Sandbox) -> None:
    assert set(sbx.counts) == set(SOURCES)
    tested, off = [], []
    for source, kinds in sbx.counts.items():
        for kind, c in kinds.items():
            p, n, k = getattr(sbx.rates[source], kind), c["eligible"], c["applied"]
            assert 0 <= k <= n, (source, kind)
            if p == 0.0:
                # A kind switched off for a source (format does not allow it, or the agency does not do it).
                assert k == 0, f"{source}.{kind} is configured at 0 but applied {k} times"
                continue
            if n < MIN_ELIGIBLE:
                continue
            tested.append((source, kind))
            sd = math.sqrt(n * p * (1 - p))
            if abs(k - n * p) > SIGMAS * sd:
                off.append(f"{source}.{kind}: {k}/{n} = {k / n:.4f}, configured {p} (±{SIGMAS * sd / n:.4f})")
    assert off == []
    configured = [(s, k) for s in SOURCES for k, p in sbx.rates[s].to_dict().items() if p > 0]
    # Nearly every configured kind has enough eligible records at this size (the rarest, e.g. a stale
    # address at the school, may fall short); a sandbox too small to test anything must not pass quietly.
    assert len(tested) >= 0.9 * len(configured), sorted(set(configured) - set(tested))


def test_every_kind_of_every_source_is_counted(sbx: Sandbox) -> None:
    """Every kind of every source is counted, so a kind a source never rolls would show as 0 eligible."""
    for source in SOURCES:
        assert set(sbx.counts[source]) == set(NoiseRates().to_dict()), source


def test_truth_rows_report_the_noise_that_was_counted(sbx: Sandbox) -> None:
    """The truth's per-record noise lists add up to the applied counts.

    Health, education and the NGO write every record they roll noise for, so the two are equal. Social
    protection rolls for an EGISSO receiver or reason person before it knows the SNILS is missing, and such a
    person is not written (EGISSO needs the SNILS): there the truth may report fewer.
    """
    for source in SOURCES:
        reported = Counter(k for row in sbx.truth if row["source"] == source for k in row["noise"])
        applied = Counter({k: c["applied"] for k, c in sbx.counts[source].items() if c["applied"]})
        if source == "social_protection":
            assert reported.keys() <= applied.keys()
            assert all(reported[k] <= applied[k] for k in reported), (reported, applied)
            assert reported["duplicate"] == applied["duplicate"]  # the case export writes every member row
        else:
            assert reported == applied, source


# --------------------------------------------------------------------------------------------------- output


def _name_checks(e: Emitted, p: TruePerson, noise: set[str]) -> tuple[list[str], list[str]]:
    """(problems, kinds verified) for the name of one record."""
    problems: list[str] = []
    verified: list[str] = []
    parts = (e.family_name, e.given_name, e.patronymic)
    true = (p.family_name, p.given_name, p.patronymic)
    written = [x for x in parts if x]
    if "latin" in noise:
        problems += [] if all(x.isascii() for x in written) else ["latin but not ASCII"]
        verified.append("latin")
    elif not all(CYRILLIC.search(x) for x in written):
        problems.append("a name without Cyrillic but no latin noise")
    if ("missing_patronymic" in noise) != (e.patronymic is None):
        problems.append("patronymic presence disagrees with missing_patronymic")
    elif "missing_patronymic" in noise:
        verified.append("missing_patronymic")
    if "yo_to_e" in noise:
        problems += [] if not any(ch in x for x in written for ch in "ёЁ") else ["yo_to_e but ё left"]
        verified.append("yo_to_e")
    alone = frozenset(noise & NAME_NOISE)
    # What a kind acting alone makes of the true name, where that is one exact value.
    expected: dict[frozenset[str], tuple[str | None, ...]] = {
        frozenset(): true,
        frozenset({"maiden_name"}): (p.birth_family_name, p.given_name, p.patronymic),
        frozenset({"swap_names"}): (p.given_name, p.family_name, p.patronymic),
        frozenset({"missing_patronymic"}): (p.family_name, p.given_name, None),
        frozenset({"yo_to_e"}): tuple(x.replace("ё", "е").replace("Ё", "Е") for x in true),
    }
    if alone in expected:
        if parts != expected[alone]:
            problems.append(f"name with noise {sorted(alone)} is not what that noise makes of the true name")
        verified += list(alone)
    elif alone == {"diminutive"}:
        ok = (e.given_name in names.diminutives(p.given_name)
              and (e.family_name, e.patronymic) == (p.family_name, p.patronymic))
        problems += [] if ok else ["diminutive is not a diminutive of the true given name"]
        verified.append("diminutive")
    elif alone == {"latin"}:
        options = {tuple(transliterate(x, t) for x in true) for t in (ICAO, INFORMAL)}
        problems += [] if parts in options else ["latin name is not a transliteration of the true name"]
    elif alone == {"case"}:
        ok = all(x in (t.upper(), t.lower()) for x, t in zip(parts, true, strict=True))
        problems += [] if ok else ["case noise changed more than the case"]
        verified.append("case")
    elif alone == {"typo"}:
        changed = sum(x != t for x, t in zip(parts, true, strict=True))
        problems += [] if changed == 1 else [f"typo changed {changed} name parts"]
        verified.append("typo")
    if "maiden_name" in noise:
        problems += [] if p.birth_family_name != p.family_name else ["maiden_name for an unmarried person"]
    return problems, verified


def _date_checks(e: Emitted, p: TruePerson, noise: set[str]) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    verified: list[str] = []
    born = dt.date.fromisoformat(p.birth_date)
    if e.birth_date is not None:
        if "day_month_swap" in noise:
            assert born.day != born.month
            ok = e.birth_date == born.replace(day=born.month, month=born.day)
            problems += [] if ok else ["day_month_swap is not the true date with day and month exchanged"]
            verified.append("day_month_swap")
        elif e.birth_date != born:
            problems.append("birth date differs from the truth without day_month_swap")
    if e.birth_date_text is not None:
        if ("date_format" in noise) != bool(RU_DATE.fullmatch(e.birth_date_text)):
            problems.append("dd.mm.yyyy date text disagrees with date_format")
        elif "date_format" in noise:
            verified.append("date_format")
    return problems, verified


def _snils_checks(e: Emitted, p: TruePerson, noise: set[str]) -> tuple[list[str], list[str]]:
    if "missing_id" in noise:
        return ([] if e.snils is None else ["missing_id but a SNILS is written"]), ["missing_id"]
    if p.snils is None:
        return ([] if e.snils is None else ["a SNILS for a person who has none"]), []
    if e.snils is None:
        return ["no SNILS without missing_id"], []
    if "id_format" in noise:
        ok = ("-" in e.snils or " " in e.snils) and re.sub(r"\D", "", e.snils) == p.snils
        return ([] if ok else ["id_format SNILS is not the true one grouped"]), ["id_format"]
    return ([] if e.snils == p.snils else ["SNILS differs from the truth without id_format"]), []


def _address_checks(e: Emitted, family: TrueFamily, noise: set[str]) -> tuple[list[str], list[str]]:
    if e.address is None:
        return [], []
    if "stale_address" in noise:
        ok = family.previous_address is not None and e.address == one_line_address(family.previous_address)
        return ([] if ok else ["stale_address is not the previous address"]), ["stale_address"]
    return ([] if e.address == one_line_address(family.address) else ["address is not the current one"]), []


@pytest.mark.parametrize("source", SOURCES)
def test_reported_noise_is_in_the_records(sbx: Sandbox, source: str) -> None:
    records = sbx.records[source]
    rows = [r for r in sbx.truth if r["source"] == source and r["kind"] == "person"]
    assert rows
    assert {r["source_record_id"] for r in rows} == set(records), "person records and truth rows differ"
    problems: Counter[str] = Counter()
    verified: Counter[str] = Counter()
    for row in rows:
        e, p, noise = records[row["source_record_id"]], sbx.persons[row["pid"]], set(row["noise"])
        checks = [_name_checks(e, p, noise), _date_checks(e, p, noise), _snils_checks(e, p, noise),
                  _address_checks(e, sbx.families[row["fid"]], noise)]
        for found, seen in checks:
            problems.update(found)
            verified.update(seen)
    assert dict(problems) == {}
    rates = sbx.rates[source].to_dict()
    # Each visible kind the source is configured for was seen at least once, so no check above is vacuous.
    expected = {k for k in VISIBLE if rates[k] > 0}
    assert expected <= set(verified), sorted(expected - set(verified))
    if source == "ngo":
        assert verified["stale_address"] > 0
