"""The sections of a user-program report (`programs.evaluate.user_program`), as `Table`s of strings.

A QA report's sections are in `report_tables`; a report whose `kind` is "program" gets these instead, in
reading order: the user's metric and parse failures per system, the accuracy of each labelled output field,
and what an item costs each system next to the compiled teacher. Rendering is shared (`report_render`).

Simplified: no plots for program reports (the tables carry every figure; the JSON holds the rest).
"""

from __future__ import annotations

from programs.evaluate.report_tables import Table, cell, ordered_systems


def program_systems_table(report: dict) -> Table:
    """The user's metric (with its 95% interval), parse failures, other errors, latency and items/s per system."""
    systems = report["systems"]
    rows = []
    for name in ordered_systems(systems):
        figures = systems[name]
        low, high = figures.get("score_ci") or (None, None)
        rows.append([
            name, str(figures["items"]), f"{cell(figures['score'])} [{cell(low)}, {cell(high)}]",
            f"{figures['parse_failures']} ({cell(100 * figures['parse_failure_rate'])}%)", str(figures["errors"]),
            cell(figures.get("choice_validity")),
            cell(figures["latency_p50_s"], 3), cell(figures["items_per_s"], 2), figures.get("engine", "n/a"),
        ])  # fmt: skip
    errors = [f"{name}: {systems[name]['first_error']}" for name in systems if systems[name].get("first_error")]
    note = f"Score: {report.get('metric')}, in percent of the items." + (
        " First error of each system that raised: " + "; ".join(errors) if errors else ""
    )
    header = ["System", "items", "score [95% CI]", "parse failures", "errors", "valid choices (%)", "p50 latency (s)",
              "items/s", "engine"]  # fmt: skip
    return Table("Systems", header, rows, note)


def field_table(report: dict) -> Table | None:
    """Each labelled output field's accuracy per system (exactly equal to its label)."""
    systems = report["systems"]
    fields = sorted({name for figures in systems.values() for name in figures.get("field_accuracy", {})})
    if not fields:
        return None
    rows = [
        [name, *[cell(systems[name]["field_accuracy"].get(field)) for field in fields]]
        for name in ordered_systems(systems)
    ]
    note = "Percent of items whose field equals its label."
    return Table("Accuracy per output field", ["System", *fields], rows, note)


def cost_table(report: dict) -> Table | None:
    """Tokens and seconds per item of each system, and its time per item against the compiled teacher's."""
    cost = report.get("cost") or {}
    if not cost:
        return None
    rows = [
        [name, cell(cost[name]["tokens_in"], 0), cell(cost[name]["tokens_out"], 0),
         cell(cost[name]["seconds_per_item"], 3), cell(cost[name]["time_vs_teacher"], 2)]
        for name in ordered_systems(cost)
    ]  # fmt: skip
    header = ["System", "tokens in / item", "tokens out / item", "seconds / item", "time vs teacher"]
    return Table("Cost", header, rows, "Time vs teacher: seconds per item over the compiled teacher's (< 1: cheaper).")


def program_tables(report: dict) -> list[Table]:
    """A program report's sections, in reading order; a section without data is left out."""
    sections = [program_systems_table(report), field_table(report), cost_table(report)]
    return [table for table in sections if table is not None]
