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
    rate = "answers_per_s" if "answers_per_s" in systems[SPEED_STUDENT] else "items_per_s"  # QA or program report
    return systems[SPEED_STUDENT][rate] / systems[SPEED_TEACHER][rate]


def recall_ks(figures: dict) -> list[int]:
    """The k of every `recall@k` in one retriever's figures, ascending."""
    return sorted(int(key.split("@")[1]) for key in figures if key.startswith("recall@"))


def cell(value: float | None, digits: int = 1) -> str:
    """A figure as a table cell: `digits` decimals, `n/a` when absent."""
    return MISSING if value is None else f"{value:.{digits}f}"


def _with_ci(metrics: dict, key: str) -> str:
    low, high = metrics.get(f"{key}_ci") or (None, None)
    interval = f" [{cell(low)}, {cell(high)}]" if low is not None else ""
    return f"{cell(metrics.get(key))}{interval}"


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
            cell(systems[name].get("rouge_l")),
            cell(systems[name].get("bleu")),
            cell(systems[name].get("latency_p50_s"), 3),
            cell(systems[name].get("answers_per_s"), 2),
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
                *[cell(_percent(figures.get(f"recall@{k}"))) for k in ks],
                cell(figures.get("mrr@10"), 3),
                cell(figures.get("ndcg@10"), 3),
                cell(figures.get("latency_ms", {}).get("p50")),
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
    columns = ["correct", "reading_error", "retrieval_miss", "wrong_closed_book", "empty", "answered_unanswerable",
               "refused_answerable"]  # fmt: skip
    return Table(
        "Error analysis",
        ["System", *[column.replace("_", " ") for column in columns], "answer in context (%)", "passage recall (%)"],
        [
            [
                name,
                *[str(systems[name]["errors"].get(column, 0)) for column in columns],
                cell(_percent(systems[name].get("answer_in_context"))),
                cell(_percent(systems[name].get("passage_recall"))),
            ]
            for name in names
        ],
        "Reading error: wrong although the gold answer was in the retrieved passages; "
        "retrieval miss: wrong and it was not.",
    )


def reader_settings(program: dict) -> list[str]:
    """The reader settings a report's program had on, in words: "copy checks", "offered choices (named in full)"."""
    settings = ["copy checks"] if program.get("copy_check") else []
    if program.get("offered_choices"):
        settings.append("offered choices (named in full)" if program.get("full_names") else "offered choices")
    return settings


def hops_table(report: dict) -> Table | None:
    """EM of one-hop and two-hop questions apart, all-gold recall, which hop found each gold passage, how often each
    hop's written query found its gold passage, and the wrong answers split by the gold passages."""
    systems, program = report.get("systems", {}), report.get("program") or {}
    names = [name for name in ordered_systems(systems) if systems[name].get("by_hops")]
    if not names:
        return None

    def em(metrics: dict, kind: str) -> str:
        group = metrics["by_hops"].get(kind)
        return MISSING if group is None else f"{group['em']:.1f} ({group['questions']})"

    def searched_again(metrics: dict, kind: str) -> str:
        group = metrics["by_hops"].get(kind) or {}
        return MISSING if group.get("searched_again") is None else f"{group['searched_again']} of {group['questions']}"

    def query_recall(metrics: dict, hop: str) -> str:
        entry = (metrics.get("hop_query_recall") or {}).get(hop)
        return MISSING if entry is None else f"{100 * entry['rate']:.1f} ({entry['searched']})"

    def gold_error(metrics: dict, kind: str) -> str:
        return str((metrics.get("gold_errors") or {}).get(kind, MISSING))

    hops = sorted({key for name in names for key in systems[name].get("gold_found_by_hop") or {} if key != "missed"})
    note = "EM per question type (questions in brackets); searched again: questions of the type the program "
    note += "searched for more than once (a one-hop question needs one search, a two-hop one two); all gold: share "
    note += "of questions whose final context holds "
    note += "every gold passage; hop columns: gold passages the hop's search found first; query recall: share of "
    note += "the questions a hop searched with a gold passage still missing whose written query alone found one; "
    note += "wrong answers with every gold passage in context are reading errors, the others retrieval errors."
    if program.get("name"):
        fusion = f", fusion {program['fusion']}" if program.get("fusion") else ""
        reader = "".join(f", {setting}" for setting in reader_settings(program))
        note += f" Program: {program['name']} ({program.get('choice') or 'given'}{fusion}{reader})."
    header = ["System", "one-hop EM", "two-hop EM", "one-hop searched again", "two-hop searched again"]
    header += ["all gold in context (%)", *[hop.replace("_", " ") for hop in hops]]
    header += ["missed", *[f"{hop.replace('_', ' ')} query recall (%)" for hop in hops]]
    header += ["wrong, all gold (reading)", "wrong, gold missing (retrieval)"]
    rows = [
        [
            name,
            em(systems[name], "one_hop"),
            em(systems[name], "two_hop"),
            searched_again(systems[name], "one_hop"),
            searched_again(systems[name], "two_hop"),
            cell(_percent(systems[name].get("all_gold_recall"))),
            *[str((systems[name].get("gold_found_by_hop") or {}).get(hop, MISSING)) for hop in hops],
            str((systems[name].get("gold_found_by_hop") or {}).get("missed", MISSING)),
            *[query_recall(systems[name], hop) for hop in hops],
            gold_error(systems[name], "reading_error"),
            gold_error(systems[name], "retrieval_error"),
        ]
        for name in names
    ]
    return Table("Question types and hops", header, rows, note)


def abstention_table(report: dict) -> Table | None:
    """Abstentions on the questions the data marks unanswerable: counts, precision, recall."""
    systems = report.get("systems", {})
    names = [name for name in ordered_systems(systems) if systems[name].get("abstention")]
    if not names:
        return None
    return Table(
        "Abstention (unanswerable questions)",
        [
            "System",
            "unanswerable questions",
            "abstentions",
            "answered unanswerable",
            "refused answerable",
            "precision (%)",
            "recall (%)",
        ],  # fmt: skip
        [
            [
                name,
                str(systems[name]["abstention"]["unanswerable"]),
                str(systems[name]["abstention"]["abstained"]),
                str(systems[name].get("errors", {}).get("answered_unanswerable", MISSING)),
                str(systems[name].get("errors", {}).get("refused_answerable", MISSING)),
                cell(_percent(systems[name]["abstention"]["precision"])),
                cell(_percent(systems[name]["abstention"]["recall"])),
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
                cell(row["student_f1"]),
                cell(row["teacher_f1"]),
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
