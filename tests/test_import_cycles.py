"""No module imports, directly or through others, a module that imports it back; rooms depend one way.

Reads every project file with `ast` (imports inside functions and under TYPE_CHECKING count too: a lazy
import is still a dependency) and looks for cycles among modules, then among rooms (the top-level
packages, and `programs`' sub-packages compile, evaluate and serve; see docs/architecture.md). A
package's `__init__` that Python runs implicitly on import is not an edge; only what a file names is.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "data", "engine", "finetune", "optimizers", "programs", "retrieval", "benchmarks", "ragdistill")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports() -> dict[str, set[str]]:
    """Each project module -> the project modules it imports (the longest known prefix of each name)."""
    files = {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            else:
                continue
            for imported in names:
                while imported and imported not in files:
                    imported = imported.rpartition(".")[0]
                if imported and imported != name:
                    targets.add(imported)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_one_that_imports_it_back():
    cycle = find_cycle(project_imports())
    assert cycle is None, " -> ".join(cycle)


def room(module: str) -> str:
    """The room of a module: its top-level package, or `programs.<sub-package>`."""
    parts = module.split(".")
    if parts[0] == "programs" and len(parts) > 2 and parts[1] in ("compile", "evaluate", "serve"):
        return f"programs.{parts[1]}"
    return parts[0]


def test_rooms_depend_one_way():
    rooms: dict[str, set[str]] = {}
    for module, targets in project_imports().items():
        rooms.setdefault(room(module), set()).update(room(target) for target in targets if room(target) != room(module))
    cycle = find_cycle(rooms)
    assert cycle is None, " -> ".join(cycle)
