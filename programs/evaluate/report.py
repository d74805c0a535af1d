"""Write an evaluation report three ways: `report.json` (every figure), `report.md`, `index.html`.

`write_report(report, out_dir)` writes each file atomically (`core.atomic`), so a reader never sees a
half-written one. The report dict, built by the evaluator:

    {
      "name": str,                       # run name, shown as the title (optional)
      "systems": {                       # any subset of SYSTEMS, in any order; others come last
        "teacher_compiled": {...},       # scoring.score_system(records): em, em_ci, f1, f1_ci,
        ...                              #   rouge_l, bleu (percent), latency_p50_s, latency_p95_s,
      },                                 #   answers_per_s, tokens_*_mean, answer_in_context, errors, ...,
                                         #   and "engine": backend and precision ("ct2 float32")
      "retrieval": {                     # one entry per retriever (optional):
        "colbert": {...},                #   retrieval.metrics.evaluate_retriever(...): "recall@k"
      },                                 #   (fractions 0-1), "mrr@10", "ndcg@10", "latency_ms": {"p50"}
      "models": {role: model id},        # e.g. {"teacher": ..., "student": ..., "retriever": ...}
      "data": {name: sha256},            # hashes of the files evaluated on
      "worst_questions": [...],          # scoring.worst_questions(student, teacher)
      "program": {"name", "choice"},     # the program compiled and why (`--program auto`) (optional)
    }

`report.json` is that dict plus `speed_ratio`: the student's answers per second divided by the
teacher's (`SPEED_STUDENT` over `SPEED_TEACHER`), `None` unless both systems were run.

`report.md` holds tables to paste into an issue; `index.html` is one self-contained page (inline CSS,
plots as base64 PNGs drawn by matplotlib's Agg canvas) with the same tables and three plots:
`#plot-quality` (EM/F1 per system with 95% CI error bars), `#plot-latency` (p50 latency vs F1),
`#plot-recall` (recall@k per retriever). A plot whose data is absent is left out, as are absent systems.

Simplified: no interactive plots and no per-question browser; the JSON holds the per-question scores.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from core.atomic import write_json_atomic, write_text_atomic

REPORT_JSON, REPORT_MARKDOWN, REPORT_PAGE = "report.json", "report.md", "index.html"
SYSTEMS = (
    "teacher_zero_shot",
    "teacher_compiled",
    "student_base",
    "student_distilled",
    "student_distilled_closed_book",
)
SPEED_STUDENT, SPEED_TEACHER = "student_distilled", "teacher_compiled"
MISSING = "n/a"


@dataclass
class Table:
    """One report section as plain strings, rendered as Markdown or HTML."""

    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


def ordered_systems(systems: dict) -> list[str]:
    """Systems present in `systems`: the known ones in `SYSTEMS` order, then any others by name."""
    return [name for name in SYSTEMS if name in systems] + sorted(set(systems) - set(SYSTEMS))


def speed_ratio(systems: dict) -> float | None:
    """How many times as many answers per second the distilled student gives as the compiled teacher."""
    if SPEED_STUDENT not in systems or SPEED_TEACHER not in systems:
        return None
    return systems[SPEED_STUDENT]["answers_per_s"] / systems[SPEED_TEACHER]["answers_per_s"]


def _num(value: float | None, digits: int = 1) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _with_ci(metrics: dict, key: str) -> str:
    low, high = metrics.get(f"{key}_ci") or (None, None)
    interval = f" [{_num(low)}, {_num(high)}]" if low is not None else ""
    return f"{_num(metrics.get(key))}{interval}"


def _recall_ks(figures: dict) -> list[int]:
    return sorted(int(key.split("@")[1]) for key in figures if key.startswith("recall@"))


SYSTEM_COLUMNS = ["System", "questions", "EM [95% CI]", "F1 [95% CI]", "ROUGE-L", "BLEU", "p50 latency (s)",
                  "answers/s", "engine"]  # fmt: skip


def build_tables(report: dict) -> list[Table]:
    """The report's sections, in reading order; a section without data is left out."""
    systems = report.get("systems", {})
    names = ordered_systems(systems)
    tables = [
        Table(
            "Systems",
            SYSTEM_COLUMNS,
            [
                [
                    name,
                    str(systems[name].get("questions", MISSING)),
                    _with_ci(systems[name], "em"),
                    _with_ci(systems[name], "f1"),
                    _num(systems[name].get("rouge_l")),
                    _num(systems[name].get("bleu")),
                    _num(systems[name].get("latency_p50_s"), 3),
                    _num(systems[name].get("answers_per_s"), 2),
                    systems[name].get("engine", MISSING),
                ]
                for name in names
            ],
            _speed_note(report),
        )
    ]
    retrieval = report.get("retrieval", {})
    if retrieval:
        ks = sorted({k for figures in retrieval.values() for k in _recall_ks(figures)})
        tables.append(
            Table(
                "Retrieval",
                ["Retriever", *[f"recall@{k}" for k in ks], "MRR@10", "nDCG@10", "p50 latency (ms)"],
                [
                    [
                        name,
                        *[_num(_percent(figures.get(f"recall@{k}"))) for k in ks],
                        _num(figures.get("mrr@10"), 3),
                        _num(figures.get("ndcg@10"), 3),
                        _num(figures.get("latency_ms", {}).get("p50")),
                    ]
                    for name, figures in retrieval.items()
                ],
                "recall@k in percent of gold passages found in the top k.",
            )
        )
    error_names = [name for name in names if "errors" in systems[name]]
    if error_names:
        tables.append(_error_table(systems, error_names))
    hop_names = [name for name in names if systems[name].get("by_hops")]
    if hop_names:
        tables.append(_hops_table(systems, hop_names, report.get("program") or {}))
    abstaining = [name for name in names if systems[name].get("abstention")]
    if abstaining:
        tables.append(_abstention_table(systems, abstaining))
    if report.get("worst_questions"):
        tables.append(_worst_table(report["worst_questions"]))
    provenance = [[f"model: {role}", str(value)] for role, value in report.get("models", {}).items()]
    provenance += [[f"data: {name}", str(value)] for name, value in report.get("data", {}).items()]
    if provenance:
        tables.append(Table("Models and data", ["What", "Id / sha256"], provenance))
    return tables


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else 100 * fraction


def _speed_note(report: dict) -> str:
    ratio = speed_ratio(report.get("systems", {}))
    if ratio is None:
        return ""
    return f"{SPEED_STUDENT} answers {ratio:.2f}x as many questions per second as {SPEED_TEACHER}."


def _error_table(systems: dict, names: list[str]) -> Table:
    columns = ["correct", "reading_error", "retrieval_miss", "wrong_closed_book", "empty", "answered_unanswerable"]
    return Table(
        "Error analysis",
        ["System", *[column.replace("_", " ") for column in columns], "answer in context (%)", "passage recall (%)"],
        [
            [
                name,
                *[str(systems[name]["errors"].get(column, 0)) for column in columns],
                _num(_percent(systems[name].get("answer_in_context"))),
                _num(_percent(systems[name].get("passage_recall"))),
            ]
            for name in names
        ],
        "Reading error: wrong although the gold answer was in the retrieved passages; "
        "retrieval miss: wrong and it was not.",
    )


def _hops_table(systems: dict, names: list[str], program: dict) -> Table:
    def em(metrics: dict, kind: str) -> str:
        group = metrics["by_hops"].get(kind)
        return MISSING if group is None else f"{group['em']:.1f} ({group['questions']})"

    hops = sorted({key for name in names for key in systems[name].get("gold_found_by_hop") or {} if key != "missed"})
    note = "EM per question type (questions in brackets); all gold: share of questions whose final context holds "
    note += "every gold passage; hop columns: gold passages the hop's search found first."
    if program.get("name"):
        note += f" Program: {program['name']} ({program.get('choice') or 'given'})."
    return Table(
        "Question types and hops",
        ["System", "one-hop EM", "two-hop EM", "all gold in context (%)", *[hop.replace("_", " ") for hop in hops]]
        + ["missed"],
        [
            [
                name,
                em(systems[name], "one_hop"),
                em(systems[name], "two_hop"),
                _num(_percent(systems[name].get("all_gold_recall"))),
                *[str((systems[name].get("gold_found_by_hop") or {}).get(hop, MISSING)) for hop in hops],
                str((systems[name].get("gold_found_by_hop") or {}).get("missed", MISSING)),
            ]
            for name in names
        ],
        note,
    )


def _abstention_table(systems: dict, names: list[str]) -> Table:
    return Table(
        "Abstention (unanswerable questions)",
        ["System", "unanswerable questions", "abstentions", "precision (%)", "recall (%)"],
        [
            [
                name,
                str(systems[name]["abstention"]["unanswerable"]),
                str(systems[name]["abstention"]["abstained"]),
                _num(_percent(systems[name]["abstention"]["precision"])),
                _num(_percent(systems[name]["abstention"]["recall"])),
            ]
            for name in names
        ],
        "An abstention is the answer 'unanswerable'; precision: abstentions on unanswerable questions over all "
        "abstentions; recall: over all unanswerable questions.",
    )


def _worst_table(rows: list[dict]) -> Table:
    def in_context(value: bool | None) -> str:
        return MISSING if value is None else ("yes" if value else "no")

    return Table(
        "Worst questions (student vs teacher)",
        ["qid", "question", "gold", "student", "teacher", "student F1", "teacher F1", "answer in context"],
        [
            [
                str(row["qid"]),
                row["question"],
                " / ".join(row["gold"]),
                row["student"],
                row["teacher"],
                _num(row["student_f1"]),
                _num(row["teacher_f1"]),
                in_context(row.get("answer_in_context")),
            ]
            for row in rows
        ],
        "The student's wrong answers where the teacher did best, largest F1 gap first.",
    )


def _md_cell(text: str) -> str:
    """One line, pipes escaped, and `<`, `>`, `&` as entities so an issue shows user text literally."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|") or " "


def render_markdown(report: dict) -> str:
    """`report.md`: a title and one Markdown table per section."""
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
        ks = _recall_ks(figures)
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


def render_html(report: dict) -> str:
    """`index.html`: the plots, then every table; all text from the report is HTML-escaped."""
    systems, retrieval = report.get("systems", {}), report.get("retrieval", {})
    plots = []
    if systems:
        plots.append(("plot-quality", "EM and F1 per system with 95% confidence intervals", plot_quality(systems)))
        plots.append(("plot-latency", "p50 latency against F1 per system", plot_latency(systems)))
    if any(_recall_ks(figures) for figures in retrieval.values()):
        plots.append(("plot-recall", "recall@k per retriever", plot_recall(retrieval)))
    title = html.escape(f"Evaluation: {report.get('name', 'ragdistill')}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        '<div class="plots">',
        *[f'<img id="{plot_id}" alt="{html.escape(alt)}" src="{uri}">' for plot_id, alt, uri in plots],
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


def write_report(report: dict, out_dir: str | os.PathLike) -> Path:
    """Write `report.json`, `report.md` and `index.html` into `out_dir`; returns `out_dir`.

    Everything is rendered before anything is written, and each file is replaced atomically, so a
    failure leaves the previous report in place. Other files in `out_dir` are left alone.
    """
    full = {**report, "speed_ratio": speed_ratio(report.get("systems", {}))}
    markdown, page = render_markdown(full), render_html(full)
    out_dir = Path(out_dir)
    write_json_atomic(out_dir / REPORT_JSON, full)
    write_text_atomic(out_dir / REPORT_MARKDOWN, markdown)
    write_text_atomic(out_dir / REPORT_PAGE, page)
    return out_dir
