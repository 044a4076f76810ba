"""One direction of imports between the layers: schemas ← mapper ← connectors → registry ← matching.

Every import statement of the five layer packages is read (top-level and function-level: a late import is
still a dependency). An edge the direction does not allow fails the test, and so does a known exception that
is gone — the list below must shrink with the code, never hide a fixed edge.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("schemas", "mapper", "connectors", "registry", "matching")
ALLOWED = {
    "schemas": set(),
    "mapper": {"schemas"},
    "connectors": {"schemas", "mapper", "registry"},
    "registry": {"schemas"},
    "matching": {"schemas", "registry"},
}
KNOWN = {
    # Lineage explains a golden value with the survivorship rules and the attribute list of the matcher.
    ("registry", "matching"): {"registry/lineage.py", "registry/lineage_family.py"},
    # The matcher reads the sources' configuration: declared shared identifiers, source trust order.
    ("matching", "connectors"): {"matching/standardize.py", "matching/survivorship.py"},
}


def _edges() -> dict[tuple[str, str], set[str]]:
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in LAYERS and top != layer:
                        edges[(layer, top)].add(path.relative_to(ROOT).as_posix())
    return edges


def test_no_layer_imports_against_the_direction() -> None:
    wrong = {
        edge: sorted(files - KNOWN.get(edge, set()))
        for edge, files in _edges().items()
        if edge[1] not in ALLOWED[edge[0]] and files - KNOWN.get(edge, set())
    }
    assert not wrong, f"imports against schemas ← mapper ← connectors → registry ← matching: {wrong}"


def test_the_known_exceptions_still_exist() -> None:
    edges = _edges()
    stale = {edge: sorted(files - edges.get(edge, set())) for edge, files in KNOWN.items()
             if files - edges.get(edge, set())}
    assert not stale, f"fixed: remove from KNOWN {stale}"


def test_the_graph_is_read_at_all() -> None:
    edges = _edges()
    assert "connectors/pipeline.py" in edges[("connectors", "registry")]
    assert "matching/reconcile.py" in edges[("matching", "registry")]
