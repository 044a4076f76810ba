"""No tracebacks at the front door: every ``hub`` subcommand, given broken input, fails with one line.

Each case runs the real CLI in a subprocess and asserts: a non-zero exit code (2 for a usage mistake), a
stderr of exactly one line beginning ``error:``, and no traceback, no Python repr and none of the
personal values planted in the broken files anywhere in the output.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

PERSONAL = ("Иванова", "112-233-445 95", "11223344595")
REPR = (" object at 0x", "Traceback", "<class '", "File \"/")


def _run(cmd: list[str], args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("front-door")
    broken = {
        "bad.json": '{"family_name": "Иванова", "identifiers": [{"kind": "snils", "value": "112-233-445 95"',
        "bad.yaml": "mapping: [unclosed\n  family_name: Иванова\n",
        "wrong.yaml": "mapping: x\nversion: 1\nsource: x\nformat: toml\nrecords: []\n",
        "sample.xml": "<a><b>Иванова</b>",
        "empty": "",
    }
    out = {}
    for name, text in broken.items():
        key = name.replace(".", "_")
        out[key] = root / name
        out[key].write_text(text, "utf-8")
    out["dir"] = root / "a-folder"
    out["dir"].mkdir()
    return out


CASES: list[tuple[str, list[str], int]] = [
    ("unknown command", ["nosuch"], 2),
    ("unknown option", ["db", "status", "--nosuch"], 2),
    ("pull without a source", ["pull"], 2),
    ("pull an unknown source", ["pull", "nosuch"], 1),
    ("push an unknown source", ["push", "nosuch"], 1),
    ("push retry an unknown source", ["push", "retry", "nosuch", "--dead"], 1),
    ("push retry without --dead", ["push", "retry", "ngo"], 2),
    ("disclosures without a filter", ["disclosures", "list"], 2),
    ("waiting with a bad limit", ["waiting", "--limit", "many"], 2),
    ("review show unknown", ["review", "show", "99999"], 1),
    ("review show not a number", ["review", "show", "abc"], 2),
    ("review accept unknown", ["review", "accept", "99999"], 1),
    ("review reject unknown", ["review", "reject", "99999"], 1),
    ("review list bad status", ["review", "list", "--status", "maybe"], 2),
    ("runs show unknown", ["runs", "show", "99999"], 1),
    ("runs replay unknown", ["runs", "replay", "99999"], 1),
    ("runs list bad kind", ["runs", "list", "--kind", "nosuch"], 2),
    ("quarantine show unknown", ["quarantine", "show", "99999"], 1),
    ("lineage person unknown", ["lineage", "person", "P999999999"], 1),
    ("lineage person bad as-of", ["lineage", "person", "P999999999", "--as-of", "yesterday"], 1),
    ("lineage family unknown", ["lineage", "family", "F999999999"], 1),
    ("lineage value unknown", ["lineage", "value", "P999999999", "family_name"], 1),
    ("lineage source unknown", ["lineage", "source", "nosuch", "1"], 1),
    ("lineage run unknown", ["lineage", "run", "99999"], 1),
    ("lineage raw unknown", ["lineage", "raw", "0" * 64], 1),
    ("lineage raw not a sha", ["lineage", "raw", "../../etc/passwd"], 1),
    ("report lineage unknown", ["report", "lineage", "P999999999", "--out", "{tmp}/r.html"], 1),
    ("unmerge unknown", ["registry", "unmerge", "P999999999", "ngo:1"], 1),
    ("unmerge no colon", ["registry", "unmerge", "P999999999", "garbage"], 2),
    ("mapping check missing file", ["mapping", "check", "{tmp}/none.yaml"], 2),
    ("mapping check broken YAML", ["mapping", "check", "{bad_yaml}"], 1),
    ("mapping check wrong format", ["mapping", "check", "{wrong_yaml}"], 1),
    ("mapping run on a folder", ["mapping", "run", "mappings/ngo.yaml", "--sample", "{dir}"], 2),
    ("validate broken JSON", ["validate", "person", "{bad_json}"], 1),
    ("validate empty file", ["validate", "person", "{empty}"], 1),
    ("validate unknown kind", ["validate", "alien", "{bad_json}"], 2),
    ("schemas export unwritable", ["schemas", "export", "--out", "/proc/hub-cannot-write"], 1),
    ("sandbox advance no data", ["sandbox", "advance", "--data", "{tmp}/none"], 2),
    ("sandbox advance not a sandbox", ["sandbox", "advance", "--data", "{dir}"], 1),
    ("sandbox serve not a sandbox", ["sandbox", "serve", "--data", "{dir}"], 1),
    ("bench night bad sizes", ["bench", "night", "--records", "ten"], 2),
    ("bench night too small", ["bench", "night", "--records", "10"], 2),
    ("bench too few families", ["bench", "match", "--families", "3"], 2),
    ("audit verify", ["audit", "verify", "--json", "--nosuch"], 2),
    ("audit checkpoint bad option", ["audit", "checkpoint", "--nosuch"], 2),
    ("db upgrade bad option", ["db", "upgrade", "--nosuch"], 2),
    ("db url bad option", ["db", "url", "--nosuch"], 2),
    ("demo bad option", ["demo", "--nosuch"], 2),
    ("mapping schema bad option", ["mapping", "schema", "--nosuch"], 2),
    ("matching report not html", ["matching", "report", "--out", "{tmp}/m.pdf"], 1),
    ("matching train bad option", ["matching", "train", "--nosuch"], 2),
    ("push run an unknown source", ["push", "run", "nosuch"], 1),
    ("quarantine list bad limit", ["quarantine", "list", "--limit", "many"], 2),
    ("reconcile bad option", ["reconcile", "--nosuch"], 2),
    ("source new bad name", ["source", "new", "Bad Name", "--sample", "{bad_json}"], 1),
    ("source new undraftable sample", ["source", "new", "undraftable", "--sample", "{bad_json}",
                                       "--out", "{tmp}/u.yaml"], 1),
    ("report kpi bad format", ["report", "kpi", "--out", "{tmp}/r.pdf"], 1),
    ("report kpi bad date", ["report", "kpi", "--from", "yesterday", "--out", "{tmp}/r.html"], 2),
    ("report kpi from after to", ["report", "kpi", "--from", "2026-02-01", "--to", "2026-01-01",
                                  "--out", "{tmp}/r.html"], 1),
    ("web bad port", ["web", "--port", "0"], 2),
    ("web user add bad role", ["web", "user", "add", "anna", "--role", "king", "--password-stdin"], 2),
    ("web user add bad name", ["web", "user", "add", "Анна; DROP", "--role", "steward",
                               "--password-stdin"], 1),
    ("web user add agency of a steward", ["web", "user", "add", "anna", "--role", "steward", "--agency",
                                          "health", "--password-stdin"], 1),
    ("web user add short password", ["web", "user", "add", "anna", "--role", "steward",
                                     "--password-stdin"], 1),
    ("web user disable unknown", ["web", "user", "disable", "nosuch"], 1),
    ("web user list bad option", ["web", "user", "list", "--nosuch"], 2),
    ("sandbox generate bad families", ["sandbox", "generate", "--families", "many", "--out", "{tmp}/s"], 2),
]
# Commands the sweep leaves out, each with why.
EXEMPT = {("airflow",): "passes every argument to the airflow CLI unchanged (its own errors are Airflow's)"}


def _leaves(command: object, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    import click

    if not isinstance(command, click.Group):
        return {path}
    found = {p for name, sub in command.commands.items() for p in _leaves(sub, (*path, name))}
    return found | ({path} if getattr(command, "invoke_without_command", False) else set())


def test_every_subcommand_is_in_the_sweep() -> None:
    """A new command cannot skip this file: each leaf command has a case above (or a reason in EXEMPT)."""
    from hub.cli import main

    covered = {tuple(args[:k]) for _, args, _ in CASES for k in range(1, len(args) + 1)}
    missing = sorted(" ".join(p) for p in _leaves(main) - covered - set(EXEMPT) if p)
    assert missing == []


@pytest.mark.parametrize(("what", "args", "code"), CASES, ids=[c[0] for c in CASES])
def test_broken_input_gives_one_error_line(
    hub_cli: list[str], database_url: str, files: dict[str, Path], tmp_path: Path,
    what: str, args: list[str], code: int,
) -> None:
    names = {k: str(v) for k, v in files.items()} | {"tmp": str(tmp_path)}
    argv = [a.format(**names) for a in args]
    done = _run(hub_cli, argv, {"HUB_DATABASE_URL": database_url})
    _assert_one_error_line(done, code)


def _assert_one_error_line(done: subprocess.CompletedProcess[str], code: int) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, (done.returncode, done.stderr[-300:])
    assert len(lines) == 1, done.stderr[-500:]
    assert lines[0].startswith("error: "), lines[0]
    for marker in (*REPR, *PERSONAL):
        assert marker not in done.stdout + done.stderr, marker


def test_a_broken_sample_is_a_report_without_reprs(hub_cli: list[str], files: dict[str, Path]) -> None:
    done = _run(hub_cli, ["mapping", "run", "mappings/ngo.yaml", "--sample", str(files["sample_xml"])], {})
    assert done.returncode == 0
    assert "QUARANTINE (payload): parse_error" in done.stdout
    assert "{" not in done.stdout.splitlines()[-1]  # counts as words, not a dict
    for marker in (*REPR, *PERSONAL):
        assert marker not in done.stdout + done.stderr, marker


@pytest.mark.parametrize("url", ["nonsense", "postgresql://hub:s3cret@127.0.0.1:1/nowhere",
                                 "postgresql://127.0.0.1:notaport/x"])
def test_a_broken_database_url_gives_one_line_without_the_password(hub_cli: list[str], url: str) -> None:
    done = _run(hub_cli, ["db", "status"], {"HUB_DATABASE_URL": url})
    _assert_one_error_line(done, 1)
    assert "s3cret" not in done.stderr


def test_an_unmigrated_registry_says_what_to_do(hub_cli: list[str], empty_database_url: str) -> None:
    for args in (["review", "list"], ["runs", "list"], ["quarantine", "list"], ["audit", "verify"]):
        done = _run(hub_cli, args, {"HUB_DATABASE_URL": empty_database_url})
        _assert_one_error_line(done, 1)
        assert "hub db upgrade" in done.stderr


def test_hub_web_on_a_taken_port_is_one_error_line(hub_cli: list[str], database_url: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(hub_cli, ["web", "--port", str(port)], {"HUB_DATABASE_URL": database_url})
    _assert_one_error_line(done, 1)
    assert "cannot listen on 127.0.0.1" in done.stderr
