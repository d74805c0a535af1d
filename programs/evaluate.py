"""Evaluate a compiled run: every system on the same questions, retrieval quality, cost; writes `report/`.

`python -m programs.evaluate runs/<name>` (or `evaluate_run(run_dir, examples)`) rebuilds, from the run
directory, the systems a user chooses between and answers the same questions with each:

- `teacher_zero_shot`   the program with the teacher LM and no demos;
- `teacher_compiled`    the teacher program the optimizers compiled (`teacher_program.json`);
- `student_base`        the student's base model, no adapter, with retrieval;
- `student_distilled`   the LoRA student (`student_program.json` + `student/`), with retrieval;
- `student_distilled_closed_book`  the same student with a retriever that finds nothing, so its prompt
                        keeps the trained format but holds no passages (RAG vs closed-book, honestly);
- `student_distilled@<retriever>`  the distilled student behind each other retriever the index offers.

Each answer becomes a `programs.scoring.AnswerRecord` (prediction, latency, tokens from the LM's history,
retrieved passages); `score_system` turns them into EM/F1/ROUGE-L/BLEU with confidence intervals,
latency and throughput; `retrieval.metrics.evaluate_retriever` measures each retriever on the gold
passages; `programs.report.write_report` writes report.json, report.md and index.html.

With `--data FILE --corpus FILE` the same systems run on any QA split with its own corpus (the real
HotpotQA/SQuAD samples, say): that corpus is indexed into the ragdistill cache first.

Simplified: questions are answered one at a time (latency is per question; answers/s is questions over
the system's wall time); a system whose artifacts the run lacks is skipped with a note.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import dspy
from tqdm import tqdm

from core.errors import RagdistillError, exit_cleanly_on_error
from data.loaders import BUNDLED_SPLITS, WORLD_DIR, file_sha256, load_corpus, load_examples
from programs.api import CompiledQA, load_program_state, read_json, run_student_lm, run_teacher_lm
from programs.rag import build_program
from programs.report import write_report
from programs.scoring import AnswerRecord, score_system, worst_questions
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


@dataclass
class System:
    """One thing to evaluate: a question answerer and the retriever name it searches with."""

    name: str
    qa: CompiledQA
    retriever: str | None


def _program(run_dir: Path, manifest: dict, retriever, state_file: str | None) -> dspy.Module:
    program = build_program(manifest["program"], retriever, manifest["retriever"].get("k", 5))
    if state_file is not None:
        path = run_dir / state_file
        load_program_state(program, read_json(path, what="saved program"), source=path)
    return program


def build_systems(
    run_dir: Path,
    manifest: dict,
    retrievers: dict[str, Retriever],
    *,
    teacher_lm: dspy.BaseLM | None = None,
) -> list[System]:
    """Every system the run's artifacts allow, in report order; the first of `retrievers` is the main one."""
    from engine.models import resolve_model
    from finetune.adapter import StudentAdapter
    from finetune.lm import StudentLM

    main = next(iter(retrievers))
    adapter = StudentAdapter()
    teacher_lm = teacher_lm or run_teacher_lm(manifest)
    systems = [
        System(
            "teacher_zero_shot",
            CompiledQA(_program(run_dir, manifest, retrievers[main], None), teacher_lm, adapter),
            main,
        )
    ]
    if (run_dir / "teacher_program.json").is_file():
        program = _program(run_dir, manifest, retrievers[main], "teacher_program.json")
        systems.append(System("teacher_compiled", CompiledQA(program, teacher_lm, adapter), main))
    student = manifest.get("student")
    if not student or not (run_dir / "student_program.json").is_file():
        print(
            "note: the run has no distilled student (compiled with --no-distill?): student systems skipped",
            file=sys.stderr,
        )
        return systems
    base_lm = StudentLM.from_base(resolve_model(student["model_used"]).name_used)
    systems.append(
        System("student_base", CompiledQA(_program(run_dir, manifest, retrievers[main], None), base_lm, adapter), main)
    )
    student_lm = run_student_lm(run_dir, manifest)
    for name, retriever in [(main, retrievers[main])] + [(n, r) for n, r in retrievers.items() if n != main]:
        program = _program(run_dir, manifest, retriever, "student_program.json")
        label = "student_distilled" if name == main else f"student_distilled@{name}"
        systems.append(System(label, CompiledQA(program, student_lm, adapter), name))
    closed = _program(run_dir, manifest, NoRetrieval(), "student_program.json")
    systems.append(System(CLOSED_BOOK, CompiledQA(closed, student_lm, adapter), None))
    return systems


def _usage(lm: dspy.BaseLM, since: int) -> tuple[int | None, int | None]:
    """Prompt and completion tokens of the LM calls after history entry `since` (None when not reported)."""
    entries = getattr(lm, "history", [])[since:]
    usages = [entry.get("usage") or {} for entry in entries]
    tokens_in = sum(u.get("prompt_tokens") or 0 for u in usages)
    tokens_out = sum(u.get("completion_tokens") or 0 for u in usages)
    return (tokens_in or None), (tokens_out or None)


def answer_all(system: System, examples: list[dspy.Example]) -> tuple[list[AnswerRecord], float]:
    """Answer every example with `system`: (records, wall seconds)."""
    records = []
    started = time.perf_counter()
    for example in tqdm(examples, desc=system.name, file=sys.stderr, leave=False):
        history_len = len(getattr(system.qa.lm, "history", []))
        asked = time.perf_counter()
        prediction = system.qa(example.question)
        latency = time.perf_counter() - asked
        tokens_in, tokens_out = _usage(system.qa.lm, history_len)
        hits = list(prediction.get("passages") or [])
        records.append(
            AnswerRecord(
                qid=str(example.id), question=example.question, gold=list(example.answers or [example.answer]),
                prediction=str(prediction.answer or ""), latency_s=latency, tokens_in=tokens_in,
                tokens_out=tokens_out, retrieved_pids=[h.pid for h in hits], retrieved_titles=[h.title for h in hits],
                gold_pids=list(example.gold_pids), retrieved_texts=[h.as_context() for h in hits],
            )
        )  # fmt: skip
    return records, time.perf_counter() - started


def open_retrievers(index_dir: Path, main: str, wanted: tuple[str, ...]) -> dict[str, Retriever]:
    """The run's retriever plus every other wanted one the index can serve."""
    manifest = read_manifest(index_dir)
    names = [main] + [name for name in wanted if name != main and can_serve(manifest, name)]
    return {name: load_retriever(name, index_dir) for name in names}


def evaluate_run(
    run_dir: str | Path,
    examples: list[dspy.Example],
    *,
    retrievers: tuple[str, ...] = DEFAULT_RETRIEVERS,
    index_dir: str | Path | None = None,
    teacher_lm: dspy.BaseLM | None = None,
    data_files: dict[str, str] | None = None,
    report_dir: str | Path | None = None,
    threads: int = 1,
) -> dict:
    """Evaluate every system of the run on `examples`, write `run_dir/report/`, and return the report dict.

    `index_dir` replaces the run's index (for data with its own corpus); `teacher_lm` replaces the teacher
    the manifest names (tests use a DummyLM); `data_files` are hashed into the report; `report_dir` defaults
    to `run_dir/report`. `threads` is kept for the compile contract; answers are timed one at a time.
    """
    run_dir = Path(run_dir)
    manifest = read_json(run_dir / "manifest.json", what="run manifest")
    if not examples:
        raise RagdistillError("no questions to evaluate")
    index_dir = Path(index_dir or manifest["retriever"]["index_dir"])
    opened = open_retrievers(index_dir, manifest["retriever"]["name"], retrievers)
    main = next(iter(opened))
    records: dict[str, list[AnswerRecord]] = {}
    systems: dict[str, dict] = {}
    with dspy.context(num_threads=threads):
        for system in build_systems(run_dir, manifest, opened, teacher_lm=teacher_lm):
            records[system.name], wall = answer_all(system, examples)
            systems[system.name] = score_system(records[system.name], wall_s=wall)
            print(f"    {system.name:36} EM {systems[system.name]['em']:5.1f}  F1 {systems[system.name]['f1']:5.1f}",
                  file=sys.stderr)  # fmt: skip
    retrieval = {name: evaluate_retriever(retriever, examples) for name, retriever in opened.items()
                 if any(example.gold_pids for example in examples)}  # fmt: skip
    student = manifest.get("student") or {}
    report = {
        "name": manifest.get("name", run_dir.name),
        "systems": systems,
        "retrieval": retrieval,
        "models": {
            "teacher": (teacher_lm.model if teacher_lm else manifest.get("teacher", {}).get("model_used")),
            "student": student.get("model_used"),
            "student_base": student.get("model_used"),
            "retriever": f"{main} ({manifest['retriever'].get('checkpoint') or 'lexical'})",
        },
        "data": {name: file_sha256(path) for name, path in (data_files or {}).items()},
        "targets": manifest.get("targets"),
    }
    if "student_distilled" in records and "teacher_compiled" in records:
        report["worst_questions"] = worst_questions(records["student_distilled"], records["teacher_compiled"])
    write_report(report, Path(report_dir or run_dir / "report"))
    return report


def index_for_corpus(corpus_path: Path, retrievers: tuple[str, ...]) -> Path:
    """An index of `corpus_path` in the ragdistill cache (built once per corpus content)."""
    from engine.models import cache_dir
    from retrieval.build import ensure_index
    from retrieval.indexdir import corpus_sha256

    passages = load_corpus(corpus_path)
    index_dir = cache_dir() / "indexes" / corpus_sha256(passages)[:16]
    ensure_index(passages, index_dir, retrievers)
    return index_dir


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--split", default="test", show_default=True, help="Bundled split to evaluate on (train, dev, test).")
@click.option("--data", "data_path", type=click.Path(path_type=Path), help="Any JSONL/CSV QA file instead of --split.")
@click.option("--corpus", type=click.Path(path_type=Path), help="The corpus --data's gold passages point into.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Evaluate the first N questions only.")
@click.option(
    "--out", "report_dir", type=click.Path(path_type=Path), help="Report directory [default: RUN_DIR/report]."
)
@click.option(
    "--retrievers",
    default=",".join(DEFAULT_RETRIEVERS),
    show_default=True,
    help="Retrievers to compare (colbert, bm25, hybrid, bm25+rerank), where the index has them.",
)
@exit_cleanly_on_error
def main(run_dir: Path, split: str, data_path: Path | None, corpus: Path | None, limit: int | None,
         report_dir: Path | None, retrievers: str) -> None:  # fmt: skip
    """Evaluate the compiled run RUN_DIR and write RUN_DIR/report/ (report.json, report.md, index.html)."""
    from finetune.adapter import StudentAdapter

    wanted = tuple(name.strip() for name in retrievers.split(",") if name.strip())
    unknown = set(wanted) - {"colbert", "bm25", "hybrid", "bm25+rerank"}
    if unknown:
        raise RagdistillError(f"unknown retriever(s) {', '.join(sorted(unknown))}")
    if not (run_dir / "manifest.json").is_file():
        raise RagdistillError(f"{run_dir} is not a run directory (no manifest.json): compile one with programs.compile")
    if data_path is None and split not in BUNDLED_SPLITS:
        raise RagdistillError(f"unknown split {split!r}: choose one of {', '.join(BUNDLED_SPLITS)} or pass --data")
    source = data_path or WORLD_DIR / f"{split}.jsonl"
    examples = load_examples(source, limit=limit)
    index_dir = index_for_corpus(corpus, wanted) if corpus else None
    data_files = {"questions": str(source), **({"corpus": str(corpus)} if corpus else {})}
    with dspy.context(adapter=StudentAdapter()):
        report = evaluate_run(
            run_dir, examples, retrievers=wanted, index_dir=index_dir, data_files=data_files, report_dir=report_dir
        )
    for name, metrics in report["systems"].items():
        click.echo(f"{name:36} EM {metrics['em']:5.1f}  F1 {metrics['f1']:5.1f}  p50 {metrics['latency_p50_s']:.3f}s")
    click.echo(f"report: {Path(report_dir or run_dir / 'report') / 'index.html'}")


if __name__ == "__main__":
    main()
