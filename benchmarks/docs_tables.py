"""The pieces of the generated docs pages: a section, the result files it reads, Markdown tables, stamps.

A `Section` of `docs/results.md` or `docs/performance.md` names the result files it is drawn from (`Source`:
a file under `docs/results/` and the command that writes it) and a `render` function turning the present ones
into Markdown lines. `python -m benchmarks.docs` puts the sections together; each present file is quoted under
its section by its stamp (when, which commit, which machine, the exact command), each absent one by the
command that would measure it.

Simplified: figures are formatted here with fixed digits (one decimal for percentages and seconds, two for
rates); a section shows the latest file of each name, no history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

MISSING = "n/a"


@dataclass(frozen=True)
class Source:
    """One result file a section reads, and the command that writes it."""

    file: str
    """The file's name under `docs/results/`."""
    command: str
    """The command, run from the repository's root, that measures it and writes the file."""


@dataclass(frozen=True)
class Section:
    """One section of a generated page."""

    title: str
    """Its heading."""
    intro: str
    """One or two sentences: what is measured, and how to read it."""
    sources: tuple[Source, ...]
    """The result files it is drawn from."""
    render: Callable[[dict[str, dict]], list[str]]
    """Markdown lines from the present result files (by file name); called when at least one is present."""


def num(value: float | int | None, digits: int = 1) -> str:
    """A figure with `digits` decimals, or `n/a`."""
    return MISSING if value is None else f"{value:,.{digits}f}"


def pct(fraction: float | None, digits: int = 1) -> str:
    """A 0-1 fraction as a percentage, or `n/a`."""
    return MISSING if fraction is None else f"{100 * fraction:.{digits}f}%"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table (pipes in cells escaped), followed by a blank line."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *[line(row) for row in rows], ""]


def describe_machine(machine: dict) -> str:
    """`2 cores (AMD EPYC), 23.5 GiB, no GPU`."""
    cores, cpu, memory = machine.get("cores", "?"), machine.get("cpu", "unknown CPU"), machine.get("memory_gib", "?")
    return f"{cores} cores ({cpu}), {memory} GiB, {', '.join(machine.get('gpus') or []) or 'no GPU'}"


def stamp_line(file: str, document: dict) -> str:
    """How a result file says where its figures come from, under the table."""
    stamp = document.get("stamp", {})
    return (
        f"- `{file}`: measured {stamp.get('measured', '?')} at commit `{stamp.get('commit', '?')}` on "
        f"{describe_machine(stamp.get('machine', {}))} by `{stamp.get('command', '?')}`"
    )


def missing_line(source: Source) -> str:
    """What a section says for a result file not measured yet."""
    return f"- `{source.file}`: not measured yet; `{source.command}` writes it."


def em_by_hops(system: dict) -> str:
    """`56.7 (68.2 / 25.0)`: EM overall, then one-hop / two-hop where the questions have both."""
    hops = system.get("by_hops") or {}
    overall = num(system.get("em"))
    if len(hops) < 2:
        return overall
    return f"{overall} ({num(hops['one_hop']['em'])} / {num(hops['two_hop']['em'])})"
