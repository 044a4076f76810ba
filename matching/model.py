"""The Fellegi–Sunter person model: Splink 5 on DuckDB — settings, training, loading, scoring.

Fuzzy comparisons run on ASCII transliteration keys (``*_latin``): DuckDB's ``jaro_winkler_similarity``
counts UTF-8 bytes, not characters, so Cyrillic compared directly would be scored wrongly (DuckDB issue
#25113; ``tests/matching/test_duckdb_unicode.py`` keeps the proof). Exact comparisons use the standardised
Cyrillic forms.

The trained model is a versioned JSON file in ``matching/models/`` (``person-vN.json``); ``hub matching
train`` writes the next version. Nights only load it.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import splink.comparison_level_library as cll
from splink import DuckDBAPI, Linker, SettingsCreator
from splink.comparison_library import CustomComparison

from schemas.settings import settings as hub_settings

log = logging.getLogger("hub.matching.model")
MODELS_DIR = Path(__file__).resolve().parent / "models"
_VERSION = re.compile(r"^person-v(\d+)\.json$")

COLUMNS = (
    "unique_id",
    "source",
    "family_stem",
    "given_name_std",
    "family_latin",
    "given_latin",
    "family_sound",
    "given_sound",
    "given_alts",
    "patronymic_std",
    "patronymic_latin",
    "birth_date",
    "birth_date_swap",
    "birth_year",
    "sex_std",
    "snils",
    "oms",
    "birth_cert",
    "shared_number",
    "postal_code",
    "locality_std",
    "street_std",
)


def _jw(col: str, threshold: float) -> str:
    return f"jaro_winkler_similarity({col}_l, {col}_r) >= {threshold}"


def _alt(a: str, b: str) -> str:
    """Side ``a``'s given name is one of the full names side ``b``'s diminutive stands for (exact bytes)."""
    return f"contains('|' || given_alts_{b} || '|', '|' || given_name_std_{a} || '|')"


def _name() -> CustomComparison:
    same_family = "family_stem_l = family_stem_r"
    same_given = "given_name_std_l = given_name_std_r"
    # One name missing on either side (minimum evidence): the other name still counts, at its own levels.
    one_missing = ("(family_stem_l IS NULL OR family_stem_r IS NULL OR given_name_std_l IS NULL "
                   "OR given_name_std_r IS NULL)")
    return CustomComparison(
        output_column_name="name",
        comparison_description="family and given name together (swaps, maiden names and a missing name are "
        "levels)",
        comparison_levels=[
            cll.CustomLevel(
                "NOT ((family_stem_l IS NOT NULL AND family_stem_r IS NOT NULL) "
                "OR (given_name_std_l IS NOT NULL AND given_name_std_r IS NOT NULL))"
            ).configure(is_null_level=True),
            cll.CustomLevel(f"{same_family} AND {same_given}", "both exact"),
            cll.CustomLevel(
                "family_latin_l = given_latin_r AND given_latin_l = family_latin_r",
                "family and given swapped",
            ),
            cll.CustomLevel(f"{same_family} AND {_jw('given_latin', 0.88)}", "family exact, given close"),
            cll.CustomLevel(f"{same_given} AND {_jw('family_latin', 0.88)}", "given exact, family close"),
            cll.CustomLevel(f"{_jw('family_latin', 0.85)} AND {_jw('given_latin', 0.85)}", "both close"),
            # Kathryn Smyth / Catherine Smith: spellings no distance threshold tells from other names.
            cll.CustomLevel("family_sound_l = family_sound_r AND given_sound_l = given_sound_r",
                            "both sound alike (Metaphone)"),
            cll.CustomLevel(f"{same_family} AND ({_alt('l', 'r')} OR {_alt('r', 'l')})",
                            "family exact, given a diminutive of it"),
            cll.CustomLevel(f"{one_missing} AND ({same_family} OR {same_given})",
                            "one name missing, the other exact"),
            cll.CustomLevel(f"{one_missing} AND ({_jw('family_latin', 0.88)} OR {_jw('given_latin', 0.88)})",
                            "one name missing, the other close"),
            cll.CustomLevel(same_given, "given exact, family differs (maiden or married name)"),
            cll.CustomLevel(same_family, "family exact, given differs (a sibling?)"),
            cll.ElseLevel(),
        ],
    )


def _patronymic() -> CustomComparison:
    return CustomComparison(
        output_column_name="patronymic",
        comparison_levels=[
            cll.NullLevel("patronymic_std"),
            cll.CustomLevel("patronymic_std_l = patronymic_std_r", "exact"),
            cll.CustomLevel(_jw("patronymic_latin", 0.9), "close"),
            cll.ElseLevel(),
        ],
    )


def _birth_date() -> CustomComparison:
    return CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.CustomLevel("birth_date_l = birth_date_r", "exact"),
            cll.CustomLevel("birth_date_l = birth_date_swap_r", "day and month swapped"),
            cll.CustomLevel("substr(birth_date_l, 1, 7) = substr(birth_date_r, 1, 7)", "same year and month"),
            cll.CustomLevel("birth_year_l = birth_year_r", "same year"),
            cll.CustomLevel("abs(birth_year_l - birth_year_r) <= 1", "a year apart"),
            cll.ElseLevel(),
        ],
    )


def _exact(column: str) -> CustomComparison:
    return CustomComparison(
        output_column_name=column,
        comparison_levels=[cll.NullLevel(column), cll.ExactMatchLevel(column), cll.ElseLevel()],
    )


def _address() -> CustomComparison:
    return CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.CustomLevel(
                "(postal_code_l IS NULL OR postal_code_r IS NULL) AND "
                "(locality_std_l IS NULL OR locality_std_r IS NULL)"
            ).configure(is_null_level=True),
            cll.CustomLevel("street_std_l = street_std_r AND (postal_code_l = postal_code_r "
                            "OR locality_std_l = locality_std_r)", "same street"),
            cll.CustomLevel("postal_code_l = postal_code_r", "same postcode"),
            cll.CustomLevel("locality_std_l = locality_std_r", "same locality"),
            cll.ElseLevel(),
        ],
    )


def _shared_number() -> CustomComparison:
    """A source-declared shared number (``system:value``): exact, or one typo apart in the same system."""
    same_system = "split_part(shared_number_l, ':', 1) = split_part(shared_number_r, ':', 1)"
    return CustomComparison(
        output_column_name="shared_number",
        comparison_levels=[
            cll.NullLevel("shared_number"),
            cll.ExactMatchLevel("shared_number"),
            cll.CustomLevel(f"{same_system} AND damerau_levenshtein(shared_number_l, shared_number_r) <= 1",
                            "one typo apart (Damerau-Levenshtein <= 1)"),
            cll.ElseLevel(),
        ],
    )


BLOCKING_RULES = (
    "l.birth_date = r.birth_date",
    "l.birth_date = r.birth_date_swap",
    "l.family_stem = r.family_stem AND l.given_name_std = r.given_name_std",
    "l.family_latin = r.family_latin AND l.birth_year = r.birth_year",
    "l.family_sound = r.family_sound AND l.given_sound = r.given_sound AND l.birth_year = r.birth_year",
    "l.given_latin = r.given_latin AND l.patronymic_latin = r.patronymic_latin "
    "AND l.birth_year = r.birth_year",
    "l.given_latin = r.given_latin AND l.street_std = r.street_std AND l.postal_code = r.postal_code",
    "l.snils = r.snils",
    "l.oms = r.oms",
    "l.birth_cert = r.birth_cert",
    "l.shared_number = r.shared_number",
)
"""OR-ed blocking rules; their recall against the sandbox truth is measured by ``hub bench match``."""


def settings() -> SettingsCreator:
    """The untrained model: comparisons and blocking rules."""
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            _name(),
            _patronymic(),
            _birth_date(),
            _exact("sex_std"),
            _exact("snils"),
            _exact("birth_cert"),
            _exact("oms"),
            _shared_number(),
            _address(),
        ],
        blocking_rules_to_generate_predictions=[{"blocking_rule": r} for r in BLOCKING_RULES],
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=["source"],
        probability_two_random_records_match=1e-5,
    )


PRIOR_RULES: tuple[tuple[tuple[str, ...], float], ...] = (
    (("l.snils = r.snils", "l.oms = r.oms", "l.birth_cert = r.birth_cert"), 0.8),
    (("l.family_latin = r.family_latin AND l.given_latin = r.given_latin AND l.birth_date = r.birth_date",),
     0.5),
)
"""Deterministic rules for the prior (probability that two random records match), tried in order, with the
share of true pairs they are assumed to find: shared identifiers first; a deployment whose agencies share
none (an English-language register, say) falls back to identical names and birth date."""


def _estimate_prior(linker: Linker) -> str:
    """Set the linker's prior from the first rule set that finds pairs; say which (else keep the default)."""
    for rules, recall in PRIOR_RULES:
        linker.training.estimate_probability_two_random_records_match(list(rules), recall=recall)
        prior = float(linker._settings_obj._probability_two_random_records_match)
        if 0.0 < prior < 1.0:
            return " OR ".join(rules)
    # No pair at all: EM would take log2(0). The untrained model's prior stands (the records decide little).
    untrained = settings().probability_two_random_records_match
    linker._settings_obj._probability_two_random_records_match = untrained
    return "the untrained model's prior (no rule found a pair)"


def train(records: list[dict[str, Any]], *, max_pairs: float = 2e6, seed: int = 1) -> dict[str, Any]:
    """Estimate u by random sampling and m by EM (blocked on dates, then on names); return the model."""
    db = DuckDBAPI()
    linker = Linker(db.register(records), settings(), log_level="WARNING")
    log.info("prior estimated from %s", _estimate_prior(linker))
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation("l.birth_date = r.birth_date")
    linker.training.estimate_parameters_using_expectation_maximisation(
        "l.family_stem = r.family_stem AND l.given_name_std = r.given_name_std"
    )
    return floor_probabilities(linker.misc.save_model_to_json())


M_FLOOR = 1e-3
U_FLOOR = 1e-6


def floor_probabilities(model: dict[str, Any]) -> dict[str, Any]:
    """Keep every level's m and u at least at a floor, and fill levels EM never saw.

    A level never observed in training (a SNILS mismatch between two records of one person, say) gets
    m = 0 from EM, which is an infinitely strong "never the same person"; real data has typos. The floor
    caps any single disagreement at about -10 (log2 of 1e-3). A level seen in neither step weighs 0.
    """
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if not m and not u:
                # Seen neither among random pairs nor by EM (a missing name where no agency omits one):
                # the training data says nothing of it, so it weighs nothing (m = u), not the floors' +10.
                level["m_probability"] = level["u_probability"] = M_FLOOR
                continue
            level["m_probability"] = max(float(m or 0.0), M_FLOOR)
            level["u_probability"] = max(float(u or 0.0), U_FLOOR)
    return model


def _model_dirs() -> list[Path]:
    """Where models are: the shipped ones, then those fitted here (``HUB_MODELS_DIR``, e.g. a volume)."""
    fitted = hub_settings().models_dir
    return [MODELS_DIR, *([fitted] if fitted else [])]


def _model_paths() -> dict[int, Path]:
    return {int(m.group(1)): p for d in _model_dirs() for p in d.glob("person-v*.json")
            if (m := _VERSION.match(p.name))}


def model_versions() -> list[int]:
    return sorted(_model_paths())


def latest_model() -> tuple[str, dict[str, Any]]:
    """(version label, settings dict) of the newest model, shipped or fitted."""
    paths = _model_paths()
    if not paths:
        raise FileNotFoundError(f"no trained model in {_model_dirs()[-1]}; run hub matching train")
    version = max(paths)
    return f"person-v{version}", json.loads(paths[version].read_text("utf-8"))


def save_model(model: dict[str, Any], profile: dict[str, Any] | None = None) -> Path:
    """Write the next version of the model file (into ``HUB_MODELS_DIR`` when set) and return its path;
    ``profile`` (``matching.drift``) goes beside it as ``person-vN.profile.json``."""
    folder = _model_dirs()[-1]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"person-v{(model_versions() or [0])[-1] + 1}.json"
    path.write_text(json.dumps(model, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
    if profile is not None:
        _profile_path(path).write_text(json.dumps(profile, indent=2, sort_keys=True) + "\n", "utf-8")
    return path


def _profile_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name.removesuffix(".json") + ".profile.json")


def model_profile(version: str) -> dict[str, Any] | None:
    """The training records' profile of model ``person-vN`` (None for a model fitted without one)."""
    path = _model_paths().get(int(version.removeprefix("person-v")))
    profile = _profile_path(path) if path else None
    return json.loads(profile.read_text("utf-8")) if profile and profile.exists() else None


def fitted_versions() -> list[int]:
    """Versions fitted here (in ``HUB_MODELS_DIR``), not shipped."""
    fitted = hub_settings().models_dir
    return sorted(v for v, p in _model_paths().items() if fitted and p.parent == fitted)


def complete(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every model column: a stored row written before a column existed lacks its key
    (it compares as missing), and DuckDB takes the columns of a table from its rows."""
    return [{**_NO_VALUES, **r} for r in rows]


_NO_VALUES = dict.fromkeys(COLUMNS)


def score(
    model: dict[str, Any], new: list[dict[str, Any]], existing: list[dict[str, Any]], threshold_weight: float
) -> list[dict[str, Any]]:
    """Pairs (new × existing and new × new) above ``threshold_weight`` with their per-comparison weights."""
    if not new:
        return []
    # Stored rows written before a column existed lack its key; the model compares them as missing.
    new, existing = complete(new), complete(existing)
    db = DuckDBAPI()
    new_df = db.register(new, table_name="new_records")
    linker = Linker(new_df, model, log_level="WARNING")
    pairs = linker.inference.predict_within(
        new_df, threshold_match_weight=threshold_weight, warning_mode="never"
    )
    rows = pairs.as_record_list()
    if existing:
        old_df = db.register(existing, table_name="existing_records")
        between = linker.inference.predict_between(
            old_df, new_df, threshold_match_weight=threshold_weight, warning_mode="never"
        )
        rows += between.as_record_list()
    return rows


def score_pairs(
    model: dict[str, Any], pairs: list[tuple[dict[str, Any], dict[str, Any]]], threshold_weight: float
) -> list[dict[str, Any]]:
    """Each given pair of feature rows scored once, whatever the model's blocking rules (pairs found by
    other evidence, such as a family's roles); the rows keep their own ``unique_id``s."""
    if not pairs:
        return []
    rows = [{**row, "unique_id": f"{i}:{side}", "_pair": i}
            for i, pair in enumerate(pairs) for side, row in enumerate(pair)]
    paired = {**model, "blocking_rules_to_generate_predictions": [
        {"blocking_rule": "l._pair = r._pair", "sql_dialect": "duckdb"}]}
    db = DuckDBAPI()
    linker = Linker(db.register(complete(rows), table_name="pairs"), paired, log_level="WARNING")
    out = []
    for row in linker.inference.predict(threshold_match_weight=threshold_weight).as_record_list():
        i = int(str(row["unique_id_l"]).partition(":")[0])
        left, right = pairs[i]
        out.append({**row, "unique_id_l": left["unique_id"], "unique_id_r": right["unique_id"]})
    return out
