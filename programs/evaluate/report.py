"""Write an evaluation report three ways: `report.json` (every figure), `report.md`, `index.html`.

`write_report(report, out_dir)` writes each file atomically (`core.atomic`), so a reader never sees a
half-written one. The report dict, built by the evaluator:

    {
      "name": str,                       # run name, shown as the title (optional)
      "systems": {                       # any subset of report_tables.SYSTEMS, in any order; others come last
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
      "program": {"name", "choice", "fusion",  # the program compiled, why (`--program auto`), its fusion
                  "copy_check", "offered_choices",  # (optional), whether copy checks and offered choices were on,
                  "full_names"},                    # and whether the student names a chosen option in full
    }

A user-program report (`programs.evaluate.user_program`, `"kind": "program"`) has its own sections
(`program_tables`): `systems` hold the user's metric (`score`), `field_accuracy`, `parse_failures`, `errors`,
latency and `items_per_s`, and `cost` each system's tokens and seconds per item.

`report.json` is that dict plus `speed_ratio`: the student's answers per second divided by the
teacher's (`report_tables.speed_ratio`), `None` unless both systems were run.

Who does what: `report_tables.py` builds the sections (one function per table), `report_render.py` lays them
out as Markdown (tables to paste into an issue) and as one self-contained HTML page with plots; this module
only writes the three files.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.atomic import write_json_atomic, write_text_atomic
from programs.evaluate.report_render import render_html, render_markdown
from programs.evaluate.report_tables import speed_ratio

REPORT_JSON, REPORT_MARKDOWN, REPORT_PAGE = "report.json", "report.md", "index.html"


def write_report(report: dict, out_dir: str | os.PathLike) -> Path:
    """Write `report.json`, `report.md` and `index.html` into `out_dir`.

    Everything is rendered before anything is written, and each file is replaced atomically, so a
    failure leaves the previous report in place. Other files in `out_dir` are left alone.

    Args:
        report: the report dict (schema in this module's docstring).
        out_dir: the report directory (created if absent).

    Returns:
        `out_dir`, as a `Path`.
    """
    full = {**report, "speed_ratio": speed_ratio(report.get("systems", {}))}
    markdown, page = render_markdown(full), render_html(full)
    out_dir = Path(out_dir)
    write_json_atomic(out_dir / REPORT_JSON, full)
    write_text_atomic(out_dir / REPORT_MARKDOWN, markdown)
    write_text_atomic(out_dir / REPORT_PAGE, page)
    return out_dir
