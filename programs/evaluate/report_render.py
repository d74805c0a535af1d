"""Render the report's tables as Markdown (`report.md`) and as one self-contained HTML page with plots (`index.html`).

The tables come from `programs/evaluate/report_tables.py`; this module only lays them out. `index.html` has
inline CSS and three plots as base64 PNGs drawn by matplotlib's Agg canvas: `#plot-quality` (EM/F1 per system
with 95% CI error bars), `#plot-latency` (p50 latency vs F1), `#plot-recall` (recall@k per retriever). A plot
whose data is absent is left out. Every text that comes from the report is escaped: HTML entities in the page,
and in Markdown cells too (plus `|`), so an issue shows user text literally.

Simplified: no interactive plots and no per-question browser; the JSON holds the per-question scores.
"""

from __future__ import annotations

import base64
import html
import io

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from programs.evaluate.report_tables import build_tables, ordered_systems, recall_ks


def _md_cell(text: str) -> str:
    """One line, pipes escaped, and `<`, `>`, `&` as entities so an issue shows user text literally."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|") or " "


def render_markdown(report: dict) -> str:
    """`report.md`: a title and one Markdown table per section.

    Args:
        report: the report dict (schema in `programs/evaluate/report.py`).

    Returns:
        The Markdown text.
    """
    lines = [f"# Evaluation: {report.get('name', 'ragdistill')}", ""]
    for table in build_tables(report):
        lines += [f"## {table.title}", ""]
        lines.append("| " + " | ".join(_md_cell(cell) for cell in table.header) + " |")
        lines.append("|" + "---|" * len(table.header))
        lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in table.rows]
        lines += ["", table.note, ""] if table.note else [""]
    return "\n".join(lines)


def _png_data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_quality(systems: dict) -> str:
    """Grouped bars of EM and F1 per system with their bootstrap intervals; a PNG data URI."""
    names = ordered_systems(systems)
    figure = Figure(figsize=(max(5.0, 1.4 * len(names)), 3.6))
    axes = figure.subplots()
    width = 0.38
    for offset, key in ((-width / 2, "em"), (width / 2, "f1")):
        values, below, above = [], [], []
        for name in names:
            value = systems[name][key]
            low, high = systems[name].get(f"{key}_ci") or (value, value)
            values.append(value)
            below.append(value - low)
            above.append(high - value)
        positions = [i + offset for i in range(len(names))]
        axes.bar(positions, values, width, yerr=[below, above], capsize=3, label=key.upper())
    axes.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("percent")
    axes.set_ylim(0, 100)
    axes.legend()
    axes.set_title("Answer quality (95% bootstrap CI)")
    return _png_data_uri(figure)


def plot_latency(systems: dict) -> str:
    """p50 latency (log scale) against F1, one labelled point per system; a PNG data URI."""
    figure = Figure(figsize=(5.5, 3.6))
    axes = figure.subplots()
    for name in ordered_systems(systems):
        x, y = systems[name]["latency_p50_s"], systems[name]["f1"]
        axes.scatter([x], [y])
        axes.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("p50 latency (s, log scale)")
    axes.set_ylabel("F1 (%)")
    axes.set_title("Latency vs quality")
    return _png_data_uri(figure)


def plot_recall(retrieval: dict) -> str:
    """recall@k against k, one line per retriever; a PNG data URI."""
    figure = Figure(figsize=(5.5, 3.6))
    axes = figure.subplots()
    for name, figures in retrieval.items():
        ks = recall_ks(figures)
        axes.plot(ks, [100 * figures[f"recall@{k}"] for k in ks], marker="o", label=name)
    axes.set_xlabel("k")
    axes.set_ylabel("recall@k (%)")
    axes.set_ylim(0, 100)
    axes.legend()
    axes.set_title("Retrieval recall@k")
    return _png_data_uri(figure)


CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.note { color: #555; font-size: 0.85rem; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
.plots img { max-width: 100%; border: 1px solid #eee; }
"""


def _plots(report: dict) -> list[tuple[str, str, str]]:
    """(element id, alt text, PNG data URI) of each plot the report has data for."""
    systems, retrieval = report.get("systems", {}), report.get("retrieval", {})
    plots = []
    if systems:
        plots.append(("plot-quality", "EM and F1 per system with 95% confidence intervals", plot_quality(systems)))
        plots.append(("plot-latency", "p50 latency against F1 per system", plot_latency(systems)))
    if any(recall_ks(figures) for figures in retrieval.values()):
        plots.append(("plot-recall", "recall@k per retriever", plot_recall(retrieval)))
    return plots


def render_html(report: dict) -> str:
    """`index.html`: the plots, then every table; all text from the report is HTML-escaped.

    Args:
        report: the report dict (schema in `programs/evaluate/report.py`).

    Returns:
        The page, one self-contained HTML document.
    """
    title = html.escape(f"Evaluation: {report.get('name', 'ragdistill')}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        '<div class="plots">',
        *[f'<img id="{plot_id}" alt="{html.escape(alt)}" src="{uri}">' for plot_id, alt, uri in _plots(report)],
        "</div>",
    ]
    for table in build_tables(report):
        parts.append(f"<h2>{html.escape(table.title)}</h2><table>")
        parts.append("<tr>" + "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header) + "</tr>")
        for row in table.rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</table>")
        if table.note:
            parts.append(f'<p class="note">{html.escape(table.note)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
