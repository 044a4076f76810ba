"""The Docker build context: what `docker build` would send from this working tree.

Docker's own rules (moby/patternmatcher): patterns are paths relative to the context root with ``*``,
``?`` and ``**``; a pattern that matches a directory excludes everything below it; ``!`` re-includes; the
last matching pattern decides. The context list is built from the working tree as it is — with ``.venv``,
``.hub`` (registry data) and ``.git`` present, as on a developer's machine after ``make demo``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEVER = (".venv", ".hub", ".git")


def _patterns(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    out = []
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex = ""
        for part in re.split(r"(\*\*/?|\*|\?)", pattern):
            regex += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
        out.append((negate, re.compile(regex)))
    return out


def _excluded(rel: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for negate, regex in patterns:
        if any(regex.fullmatch(p) for p in prefixes):
            excluded = not negate
    return excluded


def context_files(ignore: Path) -> list[str]:
    patterns = _patterns(ignore)
    files = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        base = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = [d for d in dirnames if not _excluded(base + d, patterns)]
        files += [base + f for f in filenames if not _excluded(base + f, patterns)]
    return files


def test_both_builders_read_the_same_ignore_file() -> None:
    beside = (ROOT / "docker" / "Dockerfile.dockerignore").read_text("utf-8")
    assert (ROOT / ".dockerignore").read_text("utf-8") == beside


def test_the_context_keeps_the_venv_registry_data_and_git_out() -> None:
    files = context_files(ROOT / ".dockerignore")
    patterns = _patterns(ROOT / ".dockerignore")
    for probe in (".hub/pgdata/base/1/1259", ".venv/bin/python", ".git/HEAD", "docker/.env"):
        assert _excluded(probe, patterns), probe  # whether or not the tree has them now
    leaked = [f for f in files if f.split("/")[0] in NEVER or "__pycache__" in f.split("/")]
    assert leaked == []
    for needed in ("requirements.txt", "constraints.txt", "pyproject.toml", "dags/hub_pull.py",
                   "mappings/ngo.yaml", "registry/migrations/0001_sources_and_staging.sql"):
        assert needed in files


def test_the_matcher_follows_dockers_rules(tmp_path: Path) -> None:
    ignore = tmp_path / "ignore"
    ignore.write_text(".hub\n**/__pycache__\n*.md\n!README.md\n", "utf-8")
    patterns = _patterns(ignore)
    assert _excluded(".hub/pgdata/base/1", patterns)
    assert _excluded("hub/__pycache__/cli.pyc", patterns)
    assert _excluded("NOTES.md", patterns)
    assert not _excluded("README.md", patterns)
    assert not _excluded("docs/mapping.md", patterns)  # *.md is the root's only
    assert not _excluded("hub/cli.py", patterns)


def test_the_init_step_refuses_placeholder_secrets() -> None:
    from cryptography.fernet import Fernet

    from hub.secrets_check import problems

    example = {"AIRFLOW_DB_PASSWORD": "change-me", "HUB_REGISTRY_PASSWORD": "change-me",
               "AIRFLOW__API_AUTH__JWT_SECRET": "change-me-to-a-long-random-string",
               "AIRFLOW__CORE__FERNET_KEY": "", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin"}
    assert len(problems(example)) == 5
    good = {"AIRFLOW_DB_PASSWORD": "q" * 24, "HUB_REGISTRY_PASSWORD": "w" * 24,
            "AIRFLOW__API_AUTH__JWT_SECRET": "e" * 40,
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "steward1:admin"}
    assert problems(good) == []
    assert problems({**good, "AIRFLOW__CORE__FERNET_KEY": "not-a-key"}) == [
        "AIRFLOW__CORE__FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"]
