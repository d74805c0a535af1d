"""The report's sections as plain tables of strings: what each section shows, in which order, how figures read.

`build_tables(report)` turns the report dict (its schema is in `programs/evaluate/report.py`) into a list of
`Table`s, one per section, in reading order; `programs/evaluate/report_render.py` renders them as Markdown and
HTML. Each section is one function `report -> Table | None` (None: the report has no data for it), listed in
`SECTIONS`; a new section is a new function added there.

Figures are formatted here, once, so every rendering shows the same digits: percentages with one decimal,
latencies in seconds with three, `n/a` where a figure is absent.

Simplified: no plots here (they draw from the report dict itself), and no per-question rows beyond the worst
questions; the JSON holds the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    """The section's heading."""
    header: list[str]
    """Column names."""
    rows: list[list[str]]
    """One list of cells per row, as long as `header`."""
    note: str = ""
    """A sentence under the table saying how to read it (empty: none)."""


def ordered_systems(systems: dict) -> list[str]:
    """Systems present in `systems`: the known ones in `SYSTEMS` order, then any others by name.

    Args:
        systems: the report's `systems` dict.

    Returns:
        The system names in reading order.
    """
    return [name for name in SYSTEMS if name in systems] + sorted(set(systems) - set(SYSTEMS))


def speed_ratio(systems: dict) -> float | None:
    """How many times as many answers per second the distilled student gives as the compiled teacher.

    Args:
        systems: the report's `systems` dict.

    Returns:
        The ratio, or None unless both `SPEED_STUDENT` and `SPEED_TEACHER` were run.
    """
    if SPEED_STUDENT not in systems or SPEED_TEACHER not in systems:
        return None
    return systems[SPEED_STUDENT]["answers_per_s"] / systems[SPEED_TEACHER]["answers_per_s"]


def recall_ks(figures: dict) -> list[int]:
    """The k of every `recall@k` in one retriever's figures, ascending."""
    return sorted(int(key.split("@")[1]) for key in figures if key.startswith("recall@"))


def _num(value: float | None, digits: int = 1) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _with_ci(metrics: dict, key: str) -> str:
    low, high = metrics.get(f"{key}_ci") or (None, None)
    interval = f" [{_num(low)}, {_num(high)}]" if low is not None else ""
    return f"{_num(metrics.get(key))}{interval}"


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else 100 * fraction


SYSTEM_COLUMNS = ["System", "questions", "EM [95% CI]", "F1 [95% CI]", "ROUGE-L", "BLEU", "p50 latency (s)",
                  "answers/s", "engine"]  # fmt: skip


def systems_table(report: dict) -> Table:
    """Every system's answer quality and speed; always present (empty when no system ran)."""
    systems = report.get("systems", {})
    rows = [
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
        for name in ordered_systems(systems)
    ]
    ratio, note = speed_ratio(systems), ""
    if ratio is not None:
        note = f"{SPEED_STUDENT} answers {ratio:.2f}x as many questions per second as {SPEED_TEACHER}."
    return Table("Systems", SYSTEM_COLUMNS, rows, note)


def retrieval_table(report: dict) -> Table | None:
    """Each retriever's recall@k, MRR, nDCG and latency."""
    retrieval = report.get("retrieval", {})
    if not retrieval:
        return None
    ks = sorted({k for figures in retrieval.values() for k in recall_ks(figures)})
    return Table(
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


def error_table(report: dict) -> Table | None:
    """Right answers, reading errors and retrieval misses per system."""
    systems = report.get("systems", {})
    names = [name for name in ordered_systems(systems) if "errors" in systems[name]]
    if not names:
        return None
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


def hops_table(report: dict) -> Table | None:
    """EM of one-hop and two-hop questions apart, all-gold recall, and which hop found each gold passage."""
    systems, program = report.get("systems", {}), report.get("program") or {}
    names = [name for name in ordered_systems(systems) if systems[name].get("by_hops")]
    if not names:
        return None

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


def abstention_table(report: dict) -> Table | None:
    """Abstentions on the questions the data marks unanswerable: counts, precision, recall."""
    systems = report.get("systems", {})
    names = [name for name in ordered_systems(systems) if systems[name].get("abstention")]
    if not names:
        return None
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


def worst_table(report: dict) -> Table | None:
    """The student's wrong answers where the teacher did best."""
    rows = report.get("worst_questions")
    if not rows:
        return None

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


def provenance_table(report: dict) -> Table | None:
    """The models and data files the figures come from."""
    rows = [[f"model: {role}", str(value)] for role, value in report.get("models", {}).items()]
    rows += [[f"data: {name}", str(value)] for name, value in report.get("data", {}).items()]
    return Table("Models and data", ["What", "Id / sha256"], rows) if rows else None


SECTIONS: list[Callable[[dict], Table | None]] = [
    systems_table,
    retrieval_table,
    error_table,
    hops_table,
    abstention_table,
    worst_table,
    provenance_table,
]
"""Every section of the report, in reading order."""


def build_tables(report: dict) -> list[Table]:
    """The report's sections, in reading order; a section without data is left out.

    Args:
        report: the report dict (schema in `programs/evaluate/report.py`).

    Returns:
        One `Table` per section that has data.
    """
    return [table for section in SECTIONS if (table := section(report)) is not None]
