"""The rooms keep the declared layer order of docs/architecture.md, and no module imports one that imports it back.

Reads every project file with `ast` (imports inside functions and under TYPE_CHECKING count too: a lazy
import is still a dependency). A room is a top-level package, or one of `programs`' sub-packages compile,
evaluate and serve. The declared order is the table under "Rooms and the one-way arrows" in
docs/architecture.md, read from there (the page is its one home): each row is `layer room imports`. An
arrow from a room to one on its own layer or above fails, and so do a room missing from the table and an
`imports` column that is not exactly what the room imports. A package's `__init__` that Python runs
implicitly on import is not an edge; only what a file names is.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
LAYERS_HEADING = "## Rooms and the one-way arrows between them"
ANY_ROOM = "any room it measures"
NO_ROOM = "nothing of ours"
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


def room(module: str) -> str:
    """The room of a module: its top-level package, or `programs.<sub-package>`."""
    parts = module.split(".")
    if parts[0] == "programs" and len(parts) > 2 and parts[1] in ("compile", "evaluate", "serve"):
        return f"programs.{parts[1]}"
    return parts[0]


def room_imports() -> dict[str, set[str]]:
    """Each room -> the other rooms its modules import."""
    rooms: dict[str, set[str]] = {}
    for module, targets in project_imports().items():
        rooms.setdefault(room(module), set()).update(room(target) for target in targets if room(target) != room(module))
    return rooms


def declared_layers(text: str) -> dict[str, tuple[int, set[str] | None]]:
    """The layer table of docs/architecture.md: room -> (layer, the rooms it imports; None for any room)."""
    section = text.split(LAYERS_HEADING, 1)[1]
    block = section.split("```", 2)[1]
    table: dict[str, tuple[int, set[str] | None]] = {}
    for line in block.splitlines():
        row = re.fullmatch(r"\s*(\d+)\s+(\S+)\s+(.+)", line)
        if row is None:
            continue
        layer, name, imports = int(row[1]), row[2], re.sub(r"\([^)]*\)", "", row[3]).strip()
        assert name not in table, f"{name} is in the layer table twice"
        rooms = None if imports == ANY_ROOM else set() if imports == NO_ROOM else set(re.split(r"\s*,\s*", imports))
        table[name] = (layer, rooms)
    return table


def arrows_against_layers(rooms: dict[str, set[str]], layers: dict[str, tuple[int, set[str] | None]]) -> list[str]:
    """Every arrow from a room to one on its own layer or above, as `a (layer) -> b (layer)`."""
    return [
        f"{source} ({layers[source][0]}) -> {target} ({layers[target][0]})"
        for source, targets in sorted(rooms.items())
        for target in sorted(targets)
        if layers[target][0] >= layers[source][0]
    ]


def test_no_module_imports_one_that_imports_it_back():
    cycle = find_cycle(project_imports())
    assert cycle is None, " -> ".join(cycle)


def test_every_room_is_in_the_declared_layer_table_once():
    layers = declared_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    assert set(room_imports()) == set(layers)


def test_rooms_import_only_rooms_on_lower_layers():
    layers = declared_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    against = arrows_against_layers(room_imports(), layers)
    assert not against, "arrows against the layers of docs/architecture.md: " + "; ".join(against)


def test_the_declared_imports_are_what_each_room_imports():
    layers = declared_layers(ARCHITECTURE.read_text(encoding="utf-8"))
    actual = room_imports()
    drift = {name: (sorted(declared), sorted(actual[name])) for name, (_, declared) in layers.items()
             if declared is not None and declared != actual.get(name, set())}  # fmt: skip
    assert not drift, f"room: (declared in docs/architecture.md, imported): {drift}"


def test_an_arrow_against_the_order_is_found():
    rows = ["layer  room  imports", "  1    engine  core", "  1    retrieval  core", "  0    core  nothing of ours"]
    layers = declared_layers("\n".join([LAYERS_HEADING, "```", *rows, "```"]))
    assert layers == {"engine": (1, {"core"}), "retrieval": (1, {"core"}), "core": (0, set())}
    assert arrows_against_layers({"engine": {"core"}, "core": set()}, layers) == []
    assert arrows_against_layers({"core": {"engine"}}, layers) == ["core (0) -> engine (1)"]  # upwards
    assert arrows_against_layers({"retrieval": {"engine"}}, layers) == ["retrieval (1) -> engine (1)"]  # sideways
