"""Evaluate a compiled run: every system on the same questions, retrieval quality, cost; writes `report/`.

`python -m programs.evaluate runs/<name>` (or `evaluate_run(run_dir, examples)`) rebuilds, from the run
directory, the systems a user chooses between and answers the same questions with each:

- `teacher_zero_shot`   the program with the teacher LM and no demos;
- `teacher_compiled`    the teacher program the optimizers compiled (`teacher_program.json`);
- `student_base`        the student's base model, no adapter, with retrieval;
- `student_distilled`   the LoRA student (`student_program.json` + `student/`), with retrieval;
- `student_distilled_closed_book`  the same student's answer step with no passages, so its prompt keeps
                        the trained format but holds none (RAG vs closed-book, honestly; `WithoutPassages`);
- `student_distilled@<retriever>`  the distilled student behind each other retriever the index offers (a
                        comparison: with a baseline limit, it answers the baselines' questions).

Each answer becomes a `programs.evaluate.scoring.AnswerRecord` (prediction, latency, tokens from the LM's history,
retrieved passages, the pids each hop found); `score_system` turns them into EM/F1/ROUGE-L/BLEU with
confidence intervals, latency, throughput, figures per question type and hop, and abstention;
`retrieval.metrics.evaluate_retriever` measures each retriever on the gold passages;
`programs.evaluate.report.write_report` writes report.json, report.md and index.html.

With `--data FILE --corpus FILE` the same systems run on any QA split with its own corpus (the real
HotpotQA/SQuAD samples, say): that corpus is indexed into the ragdistill cache first.

Simplified: questions are answered one at a time (latency is per question; answers/s is questions over
the system's wall time); a system whose artifacts the run lacks is skipped with a note.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dspy
from tqdm import tqdm

from core.errors import DataError
from core.log import progress_bars, say
from data.loaders import file_sha256, load_corpus
from engine.local import engine_label
from programs.api import CompiledQA, run_student_lm, run_teacher_lm, student_backend
from programs.evaluate.baselines import OTHER_RETRIEVER, questions_for
from programs.evaluate.report import write_report
from programs.evaluate.scoring import AnswerRecord, score_system, worst_questions
from programs.rag import answer_or_refuse
from programs.rundir import (
    REPORT_DIR,
    open_program,
    program_file,
    program_settings,
    read_run_manifest,
    run_index_dir,
)
from retrieval.base import Hit, Retriever
from retrieval.factory import load_retriever
from retrieval.indexdir import can_serve, read_manifest
from retrieval.metrics import evaluate_retriever

CLOSED_BOOK = "student_distilled_closed_book"
# Retrievers compared in the report; bm25+rerank re-encodes every candidate on each query (seconds on a CPU),
# so it is measured only when asked for.
DEFAULT_RETRIEVERS = ("colbert", "bm25", "hybrid")


class NoRetrieval:
    """A retriever that finds nothing: the closed-book variant of a RAG program."""

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return []

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        return [[] for _ in queries]


class WithoutPassages(dspy.Module):
    """A retrieval program answering with no passages: its own answer step (and reader settings) on an empty
    context, which is what it answers when its retriever finds nothing, without first writing the search queries
    that would find nothing (two of a multi-hop student's three generations)."""

    def __init__(self, program: dspy.Module):
        super().__init__()
        self.program = program

    def forward(self, question: str) -> dspy.Prediction:
        answer = answer_or_refuse(self.program, [], question)
        return dspy.Prediction(answer=answer, context=[], passages=[], hop_pids=[], query_pids=[])


@dataclass
class System:
    """One thing to evaluate: a question answerer and the retriever name it searches with."""

    name: str
    qa: CompiledQA
    retriever: str | None


def build_systems(
    run_dir: Path,
    manifest: dict,
    retrievers: dict[str, Retriever],
    *,
    teacher_lm: dspy.BaseLM | None = None,
    teacher: bool = True,
) -> list[System]:
    """Every system the run's artifacts allow, in report order; the first of `retrievers` is the main one.

    `teacher=False` leaves out the teacher's systems: no teacher LM is built or called.
    """
    from engine.models import resolve_model
    from finetune.adapter import StudentAdapter
    from finetune.lm import StudentLM

    main = next(iter(retrievers))
    adapter = StudentAdapter()
    systems = []
    if teacher:
        teacher_lm = teacher_lm or run_teacher_lm(manifest, cache=False)  # timed: no answer from the cache
        zero_shot = open_program(run_dir, manifest, retriever=retrievers[main])
        systems.append(System("teacher_zero_shot", CompiledQA(zero_shot, teacher_lm, adapter), main))
    if teacher and (run_dir / program_file("teacher")).is_file():
        program = open_program(run_dir, manifest, use="teacher", retriever=retrievers[main])
        systems.append(System("teacher_compiled", CompiledQA(program, teacher_lm, adapter), main))
    student = manifest.get("student")
    if not student or not (run_dir / program_file("student")).is_file():
        say(
            "note: the run has no distilled student (compiled with --no-distill?): student systems skipped", detail=True
        )
        return systems
    base_lm = StudentLM.from_base(resolve_model(student["model_used"]).name_used, **student_backend(student))
    systems.append(
        System(
            "student_base",
            CompiledQA(open_program(run_dir, manifest, retriever=retrievers[main]), base_lm, adapter),
            main,
        )
    )
    student_lm = run_student_lm(run_dir, manifest)
    for name, retriever in [(main, retrievers[main])] + [(n, r) for n, r in retrievers.items() if n != main]:
        program = open_program(run_dir, manifest, use="student", retriever=retriever)
        label = "student_distilled" if name == main else f"{OTHER_RETRIEVER}{name}"
        systems.append(System(label, CompiledQA(program, student_lm, adapter), name))
    closed = WithoutPassages(open_program(run_dir, manifest, use="student", retriever=NoRetrieval()))
    systems.append(System(CLOSED_BOOK, CompiledQA(closed, student_lm, adapter), None))
    return systems


def _usage(lm: dspy.BaseLM, since: int) -> tuple[int | None, int | None]:
    """Prompt and completion tokens of the LM calls after history entry `since` (None when not reported)."""
    entries = getattr(lm, "history", [])[since:]
    usages = [entry.get("usage") or {} for entry in entries]
    tokens_in = sum(u.get("prompt_tokens") or 0 for u in usages)
    tokens_out = sum(u.get("completion_tokens") or 0 for u in usages)
    return (tokens_in or None), (tokens_out or None)


def answer_all(system: System, examples: list[dspy.Example], threads: int = 1) -> tuple[list[AnswerRecord], float]:
    """Answer every example with `system` on `threads` workers: (records, wall seconds).

    Concurrent questions reach a local engine together, which generates them in one batch; each record keeps
    its own latency. Token usage is the system's total over the questions, shared equally among them (the
    LM's history does not say which concurrent call a usage entry belongs to), so the means stay exact.
    """
    history_len = len(getattr(system.qa.lm, "history", []))

    def answer(example: dspy.Example) -> AnswerRecord:
        asked = time.perf_counter()
        prediction = system.qa(example.question)
        latency = time.perf_counter() - asked
        hits = list(prediction.get("passages") or [])
        return AnswerRecord(
            qid=str(example.id), question=example.question, gold=list(example.answers or [example.answer]),
            prediction=str(prediction.answer or ""), latency_s=latency, tokens_in=None, tokens_out=None,
            retrieved_pids=[h.pid for h in hits], retrieved_titles=[h.title for h in hits],
            gold_pids=list(example.gold_pids), retrieved_texts=[h.as_context() for h in hits],
            hops=int(example.get("hops") or 1), hop_pids=[list(pids) for pids in prediction.get("hop_pids") or []],
            query_pids=[list(pids) for pids in prediction.get("query_pids") or []],
        )  # fmt: skip

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        answers = pool.map(answer, examples)
        off = not progress_bars()
        records = list(tqdm(answers, total=len(examples), desc=system.name, file=sys.stderr, leave=False, disable=off))
    wall = time.perf_counter() - started
    tokens_in, tokens_out = _usage(system.qa.lm, history_len)
    for record in records:
        record.tokens_in = tokens_in / len(records) if tokens_in is not None else None
        record.tokens_out = tokens_out / len(records) if tokens_out is not None else None
    return records, wall


def open_retrievers(index_dir: Path, main: str, wanted: tuple[str, ...]) -> dict[str, Retriever]:
    """The run's retriever plus every other wanted one the index can serve."""
    manifest = read_manifest(index_dir)
    names = [main] + [name for name in wanted if name != main and can_serve(manifest, name)]
    return {name: load_retriever(name, index_dir) for name in names}


def report_models(manifest: dict, teacher_lm: dspy.BaseLM | None, retriever: str) -> dict[str, str | None]:
    """The report's `models`: the teacher (the given LM's, else the run's), the student and the retriever."""
    student = manifest.get("student") or {}
    return {
        "teacher": (teacher_lm.model if teacher_lm else manifest.get("teacher", {}).get("model_used")),
        "student": student.get("model_used"),
        "student_base": student.get("model_used"),
        "retriever": f"{retriever} ({manifest['retriever'].get('checkpoint') or 'lexical'})",
    }


def evaluate_run(
    run_dir: str | Path,
    examples: list[dspy.Example],
    *,
    retrievers: tuple[str, ...] = DEFAULT_RETRIEVERS,
    index_dir: str | Path | None = None,
    teacher_lm: dspy.BaseLM | None = None,
    teacher: bool = True,
    baseline_limit: int | None = None,
    data_files: dict[str, str] | None = None,
    report_dir: str | Path | None = None,
    threads: int = 1,
) -> dict:
    """Evaluate every system of the run on `examples`, write `run_dir/report/`, and return the report dict.

    `index_dir` replaces the run's index (for data with its own corpus); `teacher_lm` replaces the teacher
    the manifest names (tests use a DummyLM), `teacher=False` leaves the teacher's systems out and
    `baseline_limit=N` has the systems compared with (`programs.evaluate.baselines`: the slow baselines and the
    distilled student behind another retriever) answer the first N questions only (each system's `questions` says
    how many); `data_files` are hashed into the report; `report_dir` defaults to `run_dir/report`. `threads`
    questions are answered at once (a local engine batches them).
    """
    run_dir = Path(run_dir)
    manifest = read_run_manifest(run_dir)
    if not examples:
        raise DataError("no questions to evaluate")
    index_dir = Path(index_dir or run_index_dir(run_dir, manifest))
    opened = open_retrievers(index_dir, manifest["retriever"]["name"], retrievers)
    main = next(iter(opened))
    records: dict[str, list[AnswerRecord]] = {}
    systems: dict[str, dict] = {}
    with dspy.context(num_threads=threads):
        for system in build_systems(run_dir, manifest, opened, teacher_lm=teacher_lm, teacher=teacher):
            asked = questions_for(system.name, examples, baseline_limit)
            records[system.name], wall = answer_all(system, asked, threads)
            scores = score_system(records[system.name], wall_s=wall)
            systems[system.name] = {**scores, "engine": engine_label(system.qa.lm)}
            say(f"{system.name:36} EM {systems[system.name]['em']:5.1f}  F1 {systems[system.name]['f1']:5.1f}",
                detail=True)  # fmt: skip
    retrieval = {name: evaluate_retriever(retriever, examples) for name, retriever in opened.items()
                 if any(example.gold_pids for example in examples)}  # fmt: skip
    settings = program_settings(manifest)
    report = {
        "name": manifest.get("name", run_dir.name),
        "systems": systems,
        "retrieval": retrieval,
        "models": report_models(manifest, teacher_lm, main),
        "data": {name: file_sha256(path) for name, path in (data_files or {}).items()},
        "targets": manifest.get("targets"),
        "program": {
            "name": manifest.get("program"),
            "choice": manifest.get("program_choice"),
            **settings,
            "fusion": settings["fusion"] if manifest.get("program") == "multihop" else None,  # only multi-hop fuses
            "full_names": bool((manifest.get("student") or {}).get("full_names")),
        },
    }
    if "student_distilled" in records and "teacher_compiled" in records:
        report["worst_questions"] = worst_questions(records["student_distilled"], records["teacher_compiled"])
    write_report(report, Path(report_dir or run_dir / REPORT_DIR))
    return report


def index_for_corpus(corpus_path: Path, retrievers: tuple[str, ...]) -> Path:
    """An index of `corpus_path` in the ragdistill cache (built once per corpus content)."""
    from core.cache import cache_dir
    from retrieval.build import ensure_index
    from retrieval.indexdir import corpus_sha256

    passages = load_corpus(corpus_path)
    index_dir = cache_dir() / "indexes" / corpus_sha256(passages)[:16]
    ensure_index(passages, index_dir, retrievers)
    return index_dir
