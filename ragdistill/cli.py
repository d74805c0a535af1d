"""`ragdistill`: one command in front of every entry point, each still runnable as `python -m <module>`.

    ragdistill --help                      # the subcommands
    ragdistill compile --name world        # = python -m programs.compile --name world
    ragdistill -q evaluate runs/world      # -q / -v on the group or on any subcommand
    ragdistill bench report runs/world     # = python -m benchmarks.report runs/world (in a checkout)

Each subcommand is the entry point's own click command, imported when it is run (so `ragdistill --help` starts
in a moment), under the subcommand's name, with an example under its `--help` and the verbosity options `-q`
(no progress lines: results and errors only) and `-v` (library output on the terminal too), which set
`core.log`'s verbosity for the command and the processes it starts. `bench` runs the scripts in `benchmarks/`,
which a checkout holds but an installed package does not: outside a checkout it says so in one line (exit 2).

Simplified: the table below is the one list of subcommands (a new entry point is a new row); the bench scripts are
found by their file names and described by their module docstrings, read without importing them.
"""

from __future__ import annotations

import ast
import copy
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from core.errors import EXIT_USAGE
from core.log import QUIET, VERBOSE, verbosity_level

CHECKOUT = Path(__file__).resolve().parents[1]
"""The directory this package sits in: a checkout of the repository when `benchmarks/` is beside it."""


@dataclass(frozen=True)
class Entry:
    """One subcommand: the module whose `main` it runs, what it does, and an example."""

    module: str
    """The module run by `python -m`, holding the click command `main`."""
    summary: str
    """One line for `ragdistill --help`."""
    example: str
    """A command line shown under the subcommand's `--help`."""


COMMANDS = {
    "compile": Entry(
        "programs.compile.__main__",
        "Compile a DSPy program with a teacher, distill it into a LoRA student, report (runs/NAME).",
        "ragdistill compile --name world --train-size 40",
    ),
    "evaluate": Entry(
        "programs.evaluate.__main__",
        "Evaluate a compiled run on a split or your own questions and write its report.",
        "ragdistill evaluate runs/world --limit 200 --retrievers colbert --no-teacher",
    ),
    "serve": Entry(
        "programs.serve.__main__",
        "Serve a compiled run's program over HTTP (POST /v1/answer).",
        "ragdistill serve runs/world --port 8894",
    ),
    "index": Entry(
        "retrieval.index",
        "Build an index of a corpus (ColBERT + BM25), or add, delete and rebuild passages.",
        "ragdistill index --corpus data/world/corpus.jsonl --out indexes/world",
    ),
    "search-server": Entry(
        "retrieval.serve",
        "Serve an index over HTTP in the protocol dspy.ColBERTv2 speaks.",
        "ragdistill search-server --index indexes/world --port 8893",
    ),
    "export": Entry(
        "finetune.export",
        "Export a run's student as a plain Hugging Face model directory (vLLM, SGLang, TGI).",
        "ragdistill export runs/world --out exports/world-student",
    ),
    "train": Entry(
        "finetune.train",
        "LoRA-train a student on your own prompt/completion pairs.",
        "ragdistill train --data pairs.jsonl --model google-t5/t5-small --out adapters/mine",
    ),
}
BENCH_SUMMARY = "Run a benchmark script of benchmarks/ (a checkout only); each prints JSON figures."


def _set_verbosity(level: int):
    """A click option callback: on the flag, hold `level` until the command (and its subcommands) end."""

    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.with_resource(verbosity_level(level))

    return callback


def verbosity_options() -> list[click.Option]:
    """`-q/--quiet` and `-v/--verbose`, processed before the command runs."""
    return [
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_verbosity(QUIET), help="No progress lines: results and errors only."),
        click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_verbosity(VERBOSE), help="Library output and warnings on the terminal too."),
    ]  # fmt: skip


def as_subcommand(command: click.Command, name: str, example: str, origin: str) -> click.Command:
    """A copy of an entry point's click command named `name`, with the verbosity options and an example.

    Args:
        command: the entry point's click command (left unchanged: `python -m` keeps running it as it is).
        name: the subcommand's name.
        example: a command line, shown under its help.
        origin: the `python -m` command it also is.

    Returns:
        The copy, for the `ragdistill` group.
    """
    copied = copy.copy(command)
    copied.name = name
    copied.params = [*command.params, *verbosity_options()]
    copied.epilog = f"\b\nExample:\n  {example}\n\nThe same as `{origin}`."
    return copied


class FrontDoor(click.Group):
    """The `ragdistill` group: subcommands from `COMMANDS` (imported when run) and `bench`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, "bench"]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "bench":
            return bench
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        command = importlib.import_module(entry.module).main
        origin = f"python -m {entry.module.removesuffix('.__main__')}"
        return as_subcommand(command, name, entry.example, origin)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry.summary) for name, entry in COMMANDS.items()] + [("bench", BENCH_SUMMARY)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def benchmark_scripts() -> dict[str, Path] | None:
    """The benchmark scripts by name (`benchmarks/<name>.py` defining `main`); None outside a checkout."""
    try:
        package = importlib.import_module("benchmarks")
    except ImportError:
        if not (CHECKOUT / "benchmarks" / "__init__.py").is_file():
            return None
        sys.path.insert(0, str(CHECKOUT))
        package = importlib.import_module("benchmarks")
    folder = Path(package.__file__).parent
    return {path.stem: path for path in sorted(folder.glob("*.py")) if _is_script(path)}


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _is_script(path: Path) -> bool:
    """Whether a benchmarks module is a script (defines `main`), not one of the helpers the scripts share."""
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in _module(path).body)


def _docstring(path: Path) -> str:
    return ast.get_docstring(_module(path)) or ""


class BenchGroup(click.Group):
    """`ragdistill bench NAME`: `python -m benchmarks.NAME`, found in the checkout."""

    def _scripts(self, ctx: click.Context) -> dict[str, Path]:
        scripts = benchmark_scripts()
        if scripts is None:
            click.echo(
                "error: `ragdistill bench` runs the scripts in benchmarks/, which a checkout of ragdistill holds "
                "and an installed package does not: run it from a clone of the repository",
                err=True,
            )
            ctx.exit(EXIT_USAGE)
        return scripts

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self._scripts(ctx))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        path = self._scripts(ctx).get(name)
        if path is None:
            return None
        origin = f"python -m benchmarks.{name}"
        synopsis = next((line.strip() for line in _docstring(path).splitlines() if origin in line), origin)
        example = synopsis.replace(origin, f"ragdistill bench {name}")
        command = importlib.import_module(f"benchmarks.{name}").main
        return as_subcommand(command, name, example, origin)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _docstring(path).splitlines()[0]) for name, path in self._scripts(ctx).items()]
        with formatter.section("Benchmarks"):
            formatter.write_dl(rows)


bench = BenchGroup(
    "bench",
    help=f"{BENCH_SUMMARY}\n\nEach is also `python -m benchmarks.NAME`, run from the repository's root.",
    params=verbosity_options(),
    epilog="\b\nExample:\n  ragdistill bench hops --dataset hotpotqa --retriever bm25",
)
main = FrontDoor(
    "ragdistill",
    help="Distill a DSPy program into a small student behind a ColBERT retriever: compile, evaluate, serve.\n\n"
    "Every subcommand is also a `python -m` module (its `--help` names it); `ragdistill COMMAND --help` "
    "documents every option.",
    params=verbosity_options(),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
    epilog="\b\nExample:\n  ragdistill compile --name world\n  ragdistill evaluate runs/world --limit 200",
)
"""The `ragdistill` console script ([project.scripts] in pyproject.toml)."""
