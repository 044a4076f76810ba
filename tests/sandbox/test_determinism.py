"""The whole sandbox is a function of the seed: the same bytes whatever the number of worker processes.

Every file under the sandbox folder — the four agencies' files, the truth (records, noise counts, world) and
``sandbox.json`` — is compared by SHA-256, after ``generate`` and again after one ``advance``. Chunks are made
small (``CHUNK = 50``) so that 350 families are seven chunks and two workers really split the work (with the
default 2,000 a chunk, one process would do it all and the comparison would prove nothing).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import sandbox.generate

SEED = 7
OTHER_SEED = 8
FAMILIES = 350
SMALL_CHUNK = 50
AGENCIES = ("social_protection", "health", "education", "ngo")


def _digests(root: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every file under ``root``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run(root: Path, seed: int, workers: int) -> tuple[dict[str, str], dict[str, str]]:
    """Generate and advance once; the digests after each step."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox.generate, "CHUNK", SMALL_CHUNK)
        sandbox.generate.generate(root, FAMILIES, seed, workers=workers)
        night1 = _digests(root)
        sandbox.generate.advance(root, workers=workers)
    return night1, _digests(root)


Runs = dict[str, tuple[dict[str, str], dict[str, str]]]
"""Run name → (digests after generate, digests after advance)."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("determinism")
    return {
        "one_worker": _run(base / "one", SEED, workers=1),
        "two_workers": _run(base / "two", SEED, workers=2),
        "other_seed": _run(base / "other", OTHER_SEED, workers=2),
    }


def test_the_sandbox_has_every_part(runs: Runs) -> None:
    """Guard against a vacuous comparison: every agency, every truth part and several chunks are there."""
    night1, night2 = runs["one_worker"]
    tops = {path.split("/")[0] for path in night2}
    assert tops == {*AGENCIES, "truth", "sandbox.json"}
    assert {p for p in night1 if p.startswith("truth/world/")} == {
        f"truth/world/chunk-{c:05d}.jsonl" for c in range(FAMILIES // SMALL_CHUNK)}
    for night in ("0001", "0002"):
        assert f"truth/night-{night}/noise.json" in night2
        assert any(p.startswith(f"truth/night-{night}/records-") for p in night2)
        assert any(p.startswith(f"health/night-{night}/") for p in night2)
    assert len(night2) > len(night1), "advance wrote nothing new"


def test_same_seed_same_bytes_whatever_the_workers(
    runs: Runs,
) -> None:
    one, two = runs["one_worker"], runs["two_workers"]
    assert one[0] == two[0], "night 1 differs between 1 and 2 workers"
    assert one[1] == two[1], "night 2 differs between 1 and 2 workers"


def test_other_seed_other_bytes(runs: Runs) -> None:
    same, other = runs["one_worker"][1], runs["other_seed"][1]
    common = set(same) & set(other)
    assert common, "the two seeds share no file name at all"
    for agency in (*AGENCIES, "truth"):
        paths = [p for p in common if p.startswith(f"{agency}/")]
        assert paths, agency
        # Every file carries seed-derived ids or persons, so not one of them may coincide.
        assert [p for p in paths if same[p] == other[p]] == [], agency
    assert same["sandbox.json"] != other["sandbox.json"]
