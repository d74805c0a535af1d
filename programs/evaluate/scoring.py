"""Score one system's answers: quality, confidence intervals, speed, retrieval use, error breakdown.

The evaluator runs each system (teacher, student, ...) on the same questions and hands this module one
`AnswerRecord` per question. `score_system(records)` turns them into one flat dict of figures (the
"metrics" object in the schema of `programs/evaluate/report.py`):

- `em`, `f1`, `rouge_l`, `bleu`: means of the per-question scores, in percent, each computed by the `score` of
  the report's `evaluate` metric module (`programs/evaluate/metrics/`: SQuAD exact match and HotpotQA token F1
  best over the gold aliases, ROUGE-L best over the aliases, smoothed sacrebleu *sentence* BLEU against every
  alias), so `evaluate.load` on a module gives the report's figure; `em_ci`, `f1_ci`: 95% percentile-bootstrap
  intervals `[low, high]` of those means (`BOOTSTRAP_RESAMPLES` resamples of the questions, seeded, so a
  report is reproducible).
- `latency_p50_s`, `latency_p95_s`: per-question answer time; `answers_per_s`: questions divided by the
  evaluator's wall time for the whole batch when it gives one (`wall_s`), else by the summed latencies.
- `tokens_in_mean`, `tokens_out_mean`: over the questions whose LM reported usage; `None` when none did.
- `answer_in_context`: share of questions whose normalized gold answer (or an alias) appears, on word
  boundaries, in the normalized text of a retrieved passage. The evaluator puts the passages exactly as
  the LM saw them (`Hit.as_context()`, "title | text") in `AnswerRecord.retrieved_texts`.
  `passage_recall`: mean share of gold passages among those retrieved (questions with `gold_pids` only).
  Each is `None` when no record carries passage texts / pids (closed book).
- `errors`: counts of right answers (EM), reading errors (wrong although the answer was in the context),
  retrieval misses (wrong and the answer was not retrieved), empty answers, answers given to questions
  the data marks unanswerable (`answered_unanswerable`), and answerable questions refused (`refused_answerable`).
- `gold_errors`: `{"reading_error", "retrieval_error"}`, the wrong answers on questions with `gold_pids` split by
  the passages instead of the answer string: every gold passage in the final context (reading) or not (retrieval);
  None when no question has `gold_pids`.
- `by_hops`: `{"one_hop": {"questions", "em", "f1", "searched_again"}, "two_hop": {...}}`, EM/F1 (percent) per
  question type (the example's `hops`), and how many questions of the type the program searched for more than once
  (a multi-hop program's stop decision: a one-hop question needs one search, a two-hop one two; None for a program
  that records no searches); a type without questions is left out.
- `all_gold_recall`: share of the questions with `gold_pids` whose final context holds every gold passage
  (None for closed book); `gold_found_by_hop`: `{"hop_1": n, "hop_2": m, "missed": k}`, for every gold passage
  the first hop whose search returned it (from `AnswerRecord.hop_pids`; None when no record has them), or missed.
- `hop_query_recall`: `{"hop_1": {"searched", "found", "rate"}, ...}`: per hop, of the questions where it searched
  while a gold passage was still missing, how many its written query alone (`query_pids`) found one of (None
  without `hop_pids`).
- `abstention`: `{"unanswerable", "abstained", "precision", "recall"}` for the questions the data marks
  unanswerable (gold `UNANSWERABLE`) and the answers that abstain (say `UNANSWERABLE`); None when there are
  neither. Precision: abstentions on unanswerable questions over all abstentions; recall: over all unanswerable
  questions (fractions 0-1, None when the denominator is 0).
- `per_question`: `[{"qid", "prediction", "gold", "em", "f1", "rouge_l", "bleu", "answer_in_context", "hops",
  "all_gold", "passages", "searches", "gold_hops"}]` (0/1 and 0-1 scales; `passages`: how many the final context
  held; `searches`: how many hops searched) so
  anyone can recompute the means, or score the predictions with another metric
  (`evaluate.load(...).compute(predictions=..., references=...)`).

Simplified: the interval is a plain percentile bootstrap (no BCa correction) and covers EM and F1 only;
latency percentiles interpolate linearly between samples. The metric modules are imported on first use
(`answer_metrics`), as importing `evaluate` loads transformers' pipelines.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from optimizers.metrics import abstained, answer_in_context, is_unanswerable
from programs.evaluate.metrics import percent_mean
from retrieval.metrics import recall_at_k

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


@dataclass
class AnswerRecord:
    """One system's answer to one question, with what it cost and what it read."""

    qid: str
    question: str
    gold: list[str]
    """The gold answer first, then its aliases."""
    prediction: str
    latency_s: float
    """Time to answer this question, retrieval included."""
    tokens_in: float | None
    """Prompt tokens reported by the LM (the system's mean per question), `None` when it reports no usage."""
    tokens_out: float | None
    retrieved_pids: list[str]
    """Passages the program retrieved, best first (empty for closed book)."""
    retrieved_titles: list[str]
    gold_pids: list[str]
    retrieved_texts: list[str] = field(default_factory=list)
    """The retrieved passages as shown to the LM ("title | text"), for the answer-in-context rate."""
    hops: int = 1
    """The question's type: 1 for one-hop, 2 for two-hop (the example's `hops`)."""
    hop_pids: list[list[str]] = field(default_factory=list)
    """The pids each search of the program returned, one list per hop (the prediction's `hop_pids`)."""
    query_pids: list[list[str]] = field(default_factory=list)
    """The pids each hop's written query alone returned (the prediction's `query_pids`; empty: as `hop_pids`)."""


def gold_hops(record: AnswerRecord) -> list[int | None]:
    """For each gold passage, the first hop (1-based) whose search returned it, None when none did."""
    return [
        next((hop for hop, pids in enumerate(record.hop_pids, start=1) if pid in pids), None)
        for pid in record.gold_pids
    ]


def bootstrap_ci(scores: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED):
    """Percentile-bootstrap interval `[low, high]` for the mean of `scores`, at `CONFIDENCE`."""
    values = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    return [float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))]


def _mean_or_none(values: Sequence[float | int | None]) -> float | None:
    known = [value for value in values if value is not None]
    return float(np.mean(known)) if known else None


@functools.cache
def answer_metrics() -> dict[str, Callable[[str, Sequence[str]], float]]:
    """The per-answer score (0-1) of each of the report's `evaluate` metric modules, by report key.

    Returns:
        `{"em", "f1", "rouge_l", "bleu"}` -> `score(prediction, gold answers)` of that module.
    """
    from programs.evaluate.metrics.bleu import bleu
    from programs.evaluate.metrics.exact_match import exact_match
    from programs.evaluate.metrics.f1 import f1
    from programs.evaluate.metrics.rouge_l import rouge_l

    modules = {"em": exact_match.ExactMatch, "f1": f1.F1, "rouge_l": rouge_l.RougeL, "bleu": bleu.Bleu}
    return {key: functools.partial(_float_score, module.score) for key, module in modules.items()}


def _float_score(score: Callable[[str, Sequence[str]], float | bool], prediction: str, answers: Sequence[str]) -> float:
    return float(score(prediction, answers))


def score_system(records: Sequence[AnswerRecord], *, wall_s: float | None = None) -> dict:
    """Every figure for one system's records (see the module docstring for each key)."""
    if not records:
        raise ValueError("score_system needs at least one record")
    has_texts = any(record.retrieved_texts for record in records)
    per_question = []
    for record in records:
        per_question.append(
            {
                "qid": record.qid,
                "prediction": record.prediction,
                "gold": list(record.gold),
                **{key: score(record.prediction, record.gold) for key, score in answer_metrics().items()},
                "answer_in_context": answer_in_context(record.gold, record.retrieved_texts) if has_texts else None,
                "hops": record.hops,
                "all_gold": set(record.gold_pids) <= set(record.retrieved_pids) if record.gold_pids else None,
                "passages": len(record.retrieved_pids),
                "searches": len(record.hop_pids),
                "gold_hops": gold_hops(record),
            }
        )
    em = [q["em"] for q in per_question]
    f1 = [q["f1"] for q in per_question]
    latencies = np.asarray([record.latency_s for record in records], dtype=float)
    with_gold = [record for record in records if record.gold_pids]
    recall = [recall_at_k(r.retrieved_pids, r.gold_pids, len(r.retrieved_pids)) for r in with_gold]
    retrieves = any(record.retrieved_pids for record in records)
    searches = any(record.hop_pids for record in records)  # a program that records its hops' searches
    return {
        "questions": len(records),
        "em": percent_mean(em),
        "em_ci": [100 * bound for bound in bootstrap_ci(em)],
        "f1": percent_mean(f1),
        "f1_ci": [100 * bound for bound in bootstrap_ci(f1)],
        "rouge_l": percent_mean([q["rouge_l"] for q in per_question]),
        "bleu": percent_mean([q["bleu"] for q in per_question]),
        "latency_p50_s": float(np.percentile(latencies, 50)),
        "latency_p95_s": float(np.percentile(latencies, 95)),
        "answers_per_s": len(records) / (wall_s if wall_s is not None else float(latencies.sum())),
        "tokens_in_mean": _mean_or_none([record.tokens_in for record in records]),
        "tokens_out_mean": _mean_or_none([record.tokens_out for record in records]),
        "answer_in_context": _mean_or_none([q["answer_in_context"] for q in per_question]),
        "passage_recall": _mean_or_none(recall) if retrieves else None,
        "errors": error_breakdown(records, per_question),
        "by_hops": by_hops(per_question, searches=searches),
        "all_gold_recall": _mean_or_none([q["all_gold"] for q in per_question]) if retrieves else None,
        "gold_found_by_hop": found_by_hop(records) if searches else None,
        "hop_query_recall": hop_query_recall(records) if searches else None,
        "gold_errors": gold_errors(per_question) if any(q["all_gold"] is not None for q in per_question) else None,
        "abstention": abstention(records),
        "per_question": per_question,
    }


def by_hops(per_question: Sequence[dict], *, searches: bool) -> dict[str, dict]:
    """EM and F1 (percent) of the one-hop and the two-hop questions apart, and how many of each the program searched
    for more than once (None without `searches`: the program recorded none)."""
    groups = {
        "one_hop": [q for q in per_question if q["hops"] < 2],
        "two_hop": [q for q in per_question if q["hops"] >= 2],
    }
    return {
        name: {
            "questions": len(group),
            "em": percent_mean([q["em"] for q in group]),
            "f1": percent_mean([q["f1"] for q in group]),
            "searched_again": sum(q["searches"] > 1 for q in group) if searches else None,
        }
        for name, group in groups.items()
        if group
    }


def found_by_hop(records: Sequence[AnswerRecord]) -> dict[str, int]:
    """How many gold passages each hop of the program found first, and how many no hop found; one key per hop
    that searched on some question (a multi-hop program that stopped after its first hop everywhere has no hop_2)."""
    found = [hop for record in records for hop in gold_hops(record)]
    hops = max((len(record.hop_pids) for record in records), default=0)
    return {**{f"hop_{hop}": found.count(hop) for hop in range(1, hops + 1)}, "missed": found.count(None)}


def hop_query_recall(records: Sequence[AnswerRecord]) -> dict[str, dict]:
    """Per hop, how often its written query found its gold passage: of the questions where the hop searched while a
    gold passage was still missing from the context, those whose query (alone, `query_pids`) returned one."""
    figures: dict[str, dict] = {}
    for record in records:
        known: set[str] = set()
        for hop, pids in enumerate(record.hop_pids, start=1):
            missing = set(record.gold_pids) - known
            if missing:
                queried = record.query_pids[hop - 1] if hop <= len(record.query_pids) else pids
                entry = figures.setdefault(f"hop_{hop}", {"searched": 0, "found": 0})
                entry["searched"] += 1
                entry["found"] += bool(missing & set(queried))
            known |= set(pids)
    return {hop: {**entry, "rate": entry["found"] / entry["searched"]} for hop, entry in sorted(figures.items())}


def gold_errors(per_question: Sequence[dict]) -> dict[str, int]:
    """Wrong answers on questions with gold passages, split by the passages: a reading error had every gold passage
    in its final context, a retrieval error lacked one."""
    wrong = [q for q in per_question if not q["em"] and q["all_gold"] is not None]
    reading = sum(q["all_gold"] for q in wrong)
    return {"reading_error": reading, "retrieval_error": len(wrong) - reading}


def abstention(records: Sequence[AnswerRecord]) -> dict | None:
    """Abstention on the questions the data marks unanswerable: counts, precision and recall (module docstring)."""
    unanswerable = [is_unanswerable(record.gold) for record in records]
    said = [abstained(record.prediction) for record in records]
    if not any(unanswerable) and not any(said):
        return None
    right = sum(gold and abstain for gold, abstain in zip(unanswerable, said, strict=True))
    return {
        "unanswerable": sum(unanswerable),
        "abstained": sum(said),
        "precision": right / sum(said) if any(said) else None,
        "recall": right / sum(unanswerable) if any(unanswerable) else None,
    }


def error_breakdown(records: Sequence[AnswerRecord], per_question: Sequence[dict]) -> dict[str, int]:
    """Count right answers, reading errors, retrieval misses, empty answers, answered unanswerable questions and
    answerable ones refused (the answer `UNANSWERABLE`)."""
    counts = {
        "correct": 0,
        "empty": 0,
        "reading_error": 0,
        "retrieval_miss": 0,
        "wrong_closed_book": 0,
        "answered_unanswerable": 0,
        "refused_answerable": 0,
    }
    for record, scores in zip(records, per_question, strict=True):
        if scores["em"]:
            counts["correct"] += 1
        elif is_unanswerable(record.gold):
            counts["answered_unanswerable"] += 1
        elif abstained(record.prediction):
            counts["refused_answerable"] += 1
        elif not record.prediction.strip():
            counts["empty"] += 1
        elif scores["answer_in_context"] is None:
            counts["wrong_closed_book"] += 1
        elif scores["answer_in_context"]:
            counts["reading_error"] += 1
        else:
            counts["retrieval_miss"] += 1
    return counts


def worst_questions(
    records_student: Sequence[AnswerRecord], records_teacher: Sequence[AnswerRecord], n: int = 20
) -> list[dict]:
    """The student's wrong answers (EM 0) on questions both answered, largest teacher-minus-student F1 first.

    Ties go to the lower student F1, then to the qid, so the list is deterministic.
    """
    teacher_by_qid = {record.qid: record for record in records_teacher}
    rows = []
    for student in records_student:
        teacher = teacher_by_qid.get(student.qid)
        if teacher is None or answer_metrics()["em"](student.prediction, student.gold):
            continue
        student_f1 = answer_metrics()["f1"](student.prediction, student.gold)
        teacher_f1 = answer_metrics()["f1"](teacher.prediction, teacher.gold)
        rows.append(
            {
                "qid": student.qid,
                "question": student.question,
                "gold": list(student.gold),
                "student": student.prediction,
                "teacher": teacher.prediction,
                "student_f1": 100 * student_f1,
                "teacher_f1": 100 * teacher_f1,
                "gap": 100 * (teacher_f1 - student_f1),
                "answer_in_context": answer_in_context(student.gold, student.retrieved_texts)
                if student.retrieved_texts
                else None,
                "retrieved_titles": list(student.retrieved_titles),
            }
        )
    rows.sort(key=lambda row: (-row["gap"], row["student_f1"], row["qid"]))
    return rows[:n]
