"""The import structure of ``src/colormae``, read with ``ast`` (lazy imports inside functions count too):
no cycle between modules or between packages, every package imports only from layers below it (the
picture in docs/architecture.md), and no function is longer than a reader can hold."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
#: Layer of each top-level package or module of colormae; imports point to a strictly lower layer.
LAYERS: dict[str, int] = {
    "errors": 0, "ranks": 0, "lazy": 0,         # ranks, lazy: import nothing of colormae
    "files": 1, "progress": 1, "config": 1, "extras": 1,  # extras: the optional packages, lazily
    "jobs": 2,                                   # config dataclasses: leaves
    "noise": 3, "models": 3,
    "masking": 4, "data": 4,
    "train": 5,                                  # the generic engine
    "dense": 6,                                  # segmentor / detector networks, dense data and metrics
    "convert": 7,                                # key layouts of other tools, import / export of a model
    "loading": 8,                                # colormae.load: every checkpoint kind
    "colormae": 9, "export": 9, "eval": 9, "viz": 9, "pretrain": 9,
    "transfer": 10,                              # dense jobs (use eval's results, viz's figures)
    "experiments": 11,                           # sweep and demo
    "commands": 12, "cli": 13, "__main__": 14,
}
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "colormae").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """``module -> colormae modules it imports`` (every ``import`` statement, at any depth)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    parts = parts[:len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                # ``from pkg import sub`` runs ``pkg/__init__.py`` too: an arrow to both
                names = [base] + [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
            for name in names:
                while name and name not in mods:
                    name = name.rpartition(".")[0]
                if name and name != mod:
                    graph[mod].add(name)
    return graph


def _cycles(graph: dict[str, set[str]], nodes: list[str]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def _package(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "colormae"


def test_no_import_cycle_between_modules():
    mods = _modules()
    assert _cycles(_imports(mods), sorted(mods)) == []


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for a, targets in _imports(_modules()).items():
        graph[_package(a)].update(_package(b) for b in targets if _package(b) != _package(a))
    assert _cycles(graph, sorted(graph)) == []


def test_every_import_points_down_the_layers():
    mods = _modules()
    assert {_package(m) for m in mods} <= set(LAYERS), "a new package needs its layer in LAYERS"
    upward = sorted(f"{a} -> {b}" for a, targets in _imports(mods).items() for b in targets
                    if _package(a) != _package(b) and LAYERS[_package(b)] >= LAYERS[_package(a)])
    assert upward == []


def test_job_configs_are_leaves():
    """A job's config module imports only the config system (and the shared setting groups)."""
    allowed = {"colormae.config", "colormae.jobs", "colormae.jobs.common"}
    graph = _imports(_modules())
    wrong = {m: sorted(graph[m] - allowed) for m in graph
             if m.startswith("colormae.jobs") and graph[m] - allowed}
    assert wrong == {}


def test_the_checker_finds_a_cycle():
    """The cycle finder itself: a -> b -> c -> a is one component, d alone is none."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph, ["a", "b", "c", "d"]) == [["a", "b", "c"]]


def test_no_function_over_80_lines():
    long = []
    for path in sorted((SRC / "colormae").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.name} ({lines} lines)")
    assert long == []
