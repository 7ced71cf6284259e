"""No import cycle between the modules of ``courtbus`` (DESIGN.md, "No circles"), and no import
between its packages that does not go down a floor (``FLOORS``), read with ``ast`` from the
source files, so nothing is imported to check it.

Only module-level imports count: those that run when the module is imported, including under a
module-level ``if``, ``try`` or ``with``. An ``if TYPE_CHECKING:`` block does not count (it never
runs), nor does an import inside a function or method (a lazy import runs when it is called,
after every module is loaded, so it cannot deadlock an import; it is how a module may reach a
floor above it at run time, and is judged by review, not here), nor ``importlib`` by name. An
edge goes to the module imported (``from a.b import c`` to ``a.b.c`` if that is a module, else to
``a.b``), and to the packages above it whose ``__init__`` runs with it (``a.b`` and ``a``),
except the importer's own packages, which have run by then.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

import courtbus

ROOT = Path(courtbus.__file__).parent.parent

# The cycles there are today, each as the set of its modules. A cycle that grows, or a new one,
# fails the test; when one of these is broken, take it out.
KNOWN_CYCLES: list[frozenset[str]] = []  # none left: any circle fails the suite


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: Sequence[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module does (not in functions, classes' methods or
    ``if TYPE_CHECKING:``)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _type_checking(node.test):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level(block)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def _imported(
    module: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: Mapping[str, object]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per dot after the first
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    for alias in node.names:
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base


def _packages_run(name: str, importer: str, files: Mapping[str, object]) -> set[str]:
    """The packages whose ``__init__`` runs when ``importer`` imports ``name`` (``a.b`` and
    ``a`` for ``a.b.c``), but for the importer's own: those run before it does."""
    parts = name.split(".")
    own = importer.split(".")
    return {
        package
        for i in range(1, len(parts))
        if (package := ".".join(parts[:i])) in files and own[:i] != parts[:i]
    }


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of ``courtbus`` → the modules of ``courtbus`` it imports at module level."""
    files = {_module_name(p, root): p for p in (root / "courtbus").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in _module_level(tree.body):
            for name in _imported(module, path.name == "__init__.py", node, files):
                while name not in files and "." in name:  # an object: its module
                    name = name.rsplit(".", 1)[0]
                if name in files and name != module:
                    found.add(name)
                    found |= _packages_run(name, module, files)
        graph[module] = found
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = {stack.pop()}
            while v not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_new_import_cycle_in_courtbus() -> None:
    graph = import_graph()
    assert "courtbus.runtime.state" in graph and "courtbus.domain.delegation" in graph
    new = [c for c in cycles(graph) if not any(c <= known for known in KNOWN_CYCLES)]
    assert not new, "import cycles (module-level imports): " + "; ".join(
        " ↔ ".join(sorted(c)) for c in new
    )


def test_the_known_cycles_are_still_there() -> None:
    """An allowed cycle that is gone is taken out of ``KNOWN_CYCLES``, so it cannot come back."""
    found = cycles(import_graph())
    assert all(any(known <= c for c in found) for known in KNOWN_CYCLES)


def test_a_cycle_is_found_and_lazy_or_typing_imports_do_not_count(tmp_path: Path) -> None:
    package = tmp_path / "courtbus"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from courtbus import b\n")
    (package / "b.py").write_text("from . import c\n")
    (package / "c.py").write_text("from courtbus.a import x\n")
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from courtbus import e\n"
    )
    (package / "e.py").write_text("def f():\n    from courtbus import d\n\nimport courtbus.d\n")
    graph = import_graph(tmp_path)
    assert graph["courtbus.d"] == set() and graph["courtbus.e"] == {"courtbus.d"}
    assert cycles(graph) == [frozenset({"courtbus.a", "courtbus.b", "courtbus.c"})]


# The floors of ``courtbus``'s packages (and top-level modules), ground first: a module-level
# import between two packages goes to a lower floor, never across one floor or up. A new
# package is given its floor here. ``(root)`` is ``courtbus/__init__.py``.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"(root)", "errors", "resources"}),  # imports nothing of courtbus's packages
    frozenset({"config", "domain", "flows", "settings", "yaml_files"}),  # pure rules and specs
    frozenset({"logs", "security", "store", "wire"}),  # keys and signatures, SQL, the codec
    frozenset({"bus", "catalogue", "faust"}),  # what every service shares; the directory
    frozenset({"access", "gateway", "runtime", "synth"}),  # ACLs; the checks; the runtime
    frozenset({"sdk", "stack"}),  # the participants' clients; the local stack
    frozenset({"web"}),
    frozenset({"app"}),  # the CLI and the demo
    frozenset({"__main__"}),
)


def package_of(module: str) -> str:
    """The package (or top-level module) of ``courtbus`` a module is in."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def upward_imports(
    graph: Mapping[str, set[str]], floors: Sequence[frozenset[str]]
) -> list[tuple[str, str]]:
    """The module-level imports from one package to another that do not go to a lower floor."""
    floor = {name: n for n, names in enumerate(floors) for name in names}
    return sorted(
        (module, imported)
        for module, imports in graph.items()
        for imported in imports
        if package_of(module) != package_of(imported)
        and floor.get(package_of(imported), len(floors)) >= floor.get(package_of(module), -1)
    )


def test_every_package_has_a_floor() -> None:
    placed = set().union(*FLOORS)
    assert {package_of(m) for m in import_graph()} <= placed
    assert sum(len(f) for f in FLOORS) == len(placed)  # each on one floor


def test_no_import_runs_up_or_across_between_packages() -> None:
    upward = upward_imports(import_graph(), FLOORS)
    assert not upward, "imports that do not go down a floor: " + "; ".join(
        f"{a} → {b}" for a, b in upward
    )


def test_an_upward_import_is_found() -> None:
    graph = {
        "courtbus.wire.codec": {"courtbus.errors", "courtbus.wire.values"},
        "courtbus.flows.spec": {"courtbus.bus.topics"},  # up
        "courtbus.bus.topics": {"courtbus.catalogue.directory"},  # across
    }
    floors = (frozenset({"errors"}), frozenset({"flows", "wire"}), frozenset({"bus", "catalogue"}))
    assert upward_imports(graph, floors) == [
        ("courtbus.bus.topics", "courtbus.catalogue.directory"),
        ("courtbus.flows.spec", "courtbus.bus.topics"),
    ]


SERVICE_ENTRIES = sorted(
    p.parent.name
    for p in (ROOT / "services").glob("*/__main__.py")
    if p.parent.name != "__pycache__"
)


@pytest.mark.parametrize("service", SERVICE_ENTRIES)
def test_each_service_entry_imports_on_its_own(service: str) -> None:
    """Each ``python -m services.<name>`` imports in a fresh interpreter (a circle through a
    package's ``__init__`` shows only in the order a service imports things: the watchdog's
    once failed on ``courtbus.wire.envelope`` → ``flows`` → ``bus/__init__`` → ``envelope``)."""
    run = subprocess.run(
        [sys.executable, "-c", f"import services.{service}.__main__"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
