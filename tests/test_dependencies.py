"""Every third-party module the hub imports is a declared requirement, and every requirement is used.

Imports are read with ``ast`` from every Python file of the project (inside functions too); a module maps
to its distribution through the installed metadata (``importlib.metadata.packages_distributions``).
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} | {"dags"}

# Requirements no module imports by name, each with the reason it is declared.
NOT_IMPORTED = {
    "apache-airflow-providers-celery": "Airflow loads the CeleryExecutor by its dotted name from the config",
    "apache-airflow-providers-openlineage": "Airflow loads the listener; the hub imports openlineage types",
    "celery": "pinned below 5.7 for providers-celery 3.26 (see the comment in requirements.txt)",
    "asyncpg": "Airflow 3's async driver for a PostgreSQL metadata database, chosen by URL",
    "pytest-xdist": "a pytest plugin (`make test` runs `pytest -n 2`)",
    "ruff": "a command (`make lint`)",
    "mypy": "a command (`make typecheck`)",
    "jinja2": "FastAPI's Jinja2Templates imports it for hub web's pages",
    "python-multipart": "FastAPI parses hub web's form posts with it",
    "itsdangerous": "Starlette's SessionMiddleware signs hub web's session cookie with it",
}


# Modules installed by a distribution that a declared meta-package pins.
META = {"airflow": "apache-airflow"}  # apache-airflow pins apache-airflow-core and apache-airflow-task-sdk


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements() -> set[str]:
    names = set()
    for line in (ROOT / "requirements.txt").read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_norm(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0]))
    return names


def _project_files() -> list[Path]:
    """The project's Python files: hidden folders (.venv, .hub) are not walked at all."""
    tops = [p for p in ROOT.iterdir() if not p.name.startswith(".")]
    return sorted(f for p in tops for f in ([p] if p.is_file() else p.rglob("*.py")) if f.suffix == ".py")


@functools.cache
def _imported_modules() -> dict[str, str]:
    """top-level module → one file importing it (absolute imports only)."""
    found: dict[str, str] = {}
    for path in _project_files():
        rel = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_bytes(), str(rel))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL and top != "__future__":
                    found.setdefault(top, str(rel))
    return found


@functools.cache
def _installed() -> dict[str, list[str]]:
    """Module → distributions: read once (each call scans every installed package's metadata)."""
    return dict(packages_distributions())


def _distributions(module: str) -> set[str]:
    found = {_norm(d) for d in _installed().get(module, [])}
    return found | {META[module]} if module in META else found


def test_every_imported_module_is_declared() -> None:
    declared = _requirements()
    missing = {m: f for m, f in _imported_modules().items()
               if not (_distributions(m) & declared) and not m.startswith("types_")}
    assert missing == {}, f"imported but not in requirements.txt (module: a file importing it): {missing}"


def test_every_requirement_is_imported_or_says_why_not() -> None:
    used = {d for m in _imported_modules() for d in _distributions(m)}
    stubs = {r for r in _requirements() if r.startswith("types-")}
    unused = _requirements() - used - stubs - set(NOT_IMPORTED)
    assert unused == set(), f"in requirements.txt but never imported: {sorted(unused)}"


def test_stub_packages_match_imported_modules() -> None:
    modules = {_norm(m) for m in _imported_modules()}
    for stub in (r for r in _requirements() if r.startswith("types-")):
        assert _norm(stub.removeprefix("types-")) in modules | {"pyyaml"}, stub
