"""Generation benchmark of the local LM engine: backends and precisions of the student, batching of the teacher.

    python -m benchmarks.engine [--run runs/world | --adapter DIR] [--questions 100] [--teacher-questions 16]

Student: the distilled student of `--run` (its manifest's base model + `student/`), or a trained dir
(`--adapter`), else the bare base SmolLM2 (the JSON says which). The same world test questions, each with
its gold passages plus random distractors up to 5 passages (like retrieval at k=5), go through, in one
process: stock transformers one prompt at a time, transformers in batches of 16, and CTranslate2 one
prompt at a time in each compute type. Each reports answers/s, p50 latency, EM against the gold answers
and how many answers are identical to stock transformers'.

Teacher: the offline SmolLM2 teacher answering the same questions through DSPy (`Predict`, ChatAdapter,
field-guided decoding) with 1 and 4 threads: the engine batches concurrent calls, so 4 threads should
answer faster than 1 with the same answers. `--teacher-backends` adds CTranslate2 for the teacher.

Simplified: timings are wall clock on whatever else the machine runs (compare ratios within one run);
weights load (and ct2 conversions happen) before timing starts.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import dspy

from benchmarks.results import emit, out_option
from core.errors import ModelNotFoundError, RunFormatError, exit_cleanly_on_error
from data.loaders import WORLD_CORPUS, load_corpus, load_examples
from engine.models import SMOLLM2
from finetune.lm import StudentLM
from finetune.prompt import format_prompt
from optimizers.metrics import exact_match, gold_answers
from programs.signatures import GenerateAnswer

PASSAGES = 5


def world_questions(limit: int, seed: int = 0) -> list[dspy.Example]:
    """World test questions with their gold passages and random distractors (PASSAGES in all), shuffled."""
    corpus = load_corpus(WORLD_CORPUS)
    by_pid = {passage.pid: passage for passage in corpus}
    rng = random.Random(seed)
    examples = []
    for example in load_examples("test", limit=limit):
        passages = [by_pid[pid] for pid in example.gold_pids]
        passages += rng.sample(corpus, max(0, PASSAGES - len(passages)))
        rng.shuffle(passages)
        context = [passage.as_context() for passage in passages]
        examples.append(example.copy(context=context).with_inputs("question", "context"))
    return examples


def em(answers: list[str], examples: list[dspy.Example]) -> float:
    """Exact match (%) of `answers` against the examples' gold answers."""
    hits = sum(exact_match(answer, gold_answers(ex)) for answer, ex in zip(answers, examples, strict=True))
    return round(100 * hits / len(examples), 1)


def student_source(run: Path | None, adapter: Path | None) -> tuple[str, str | None, str]:
    """(base model, trained dir or None, description) of the student to measure."""
    if run is not None:
        manifest_file = run / "manifest.json"
        if not manifest_file.is_file():
            raise RunFormatError(f"{run} holds no manifest.json: pass a compiled run directory")
        student = json.loads(manifest_file.read_text(encoding="utf-8")).get("student") or {}
        base = student.get("model_used") or student.get("spec")
        if base is None:
            raise ModelNotFoundError(f"the run {run} has no distilled student")
        return base, str(run / student.get("adapter_dir", "student")), f"distilled student of run {run}"
    if adapter is not None:
        return SMOLLM2, str(adapter), f"adapter {adapter} on {SMOLLM2}"
    return SMOLLM2, None, f"base {SMOLLM2} (no adapter)"


def measure_student(lm: StudentLM, prompts: list[str], batch: int) -> tuple[list[str], dict]:
    """Answers and speed of `lm` on `prompts`, `batch` prompts per `generate` call."""
    engine = lm.student_engine
    engine.generate(prompts[:1])  # load (and convert) outside the timing
    answers, latencies = [], []
    started = time.perf_counter()
    for start in range(0, len(prompts), batch):
        call_started = time.perf_counter()
        answers += engine.generate(prompts[start : start + batch])
        latencies.append(time.perf_counter() - call_started)
    seconds = time.perf_counter() - started
    return answers, {
        "backend": engine.used["backend"],
        "compute_type": engine.used["compute_type"],
        "batch": batch,
        "answers_per_s": round(len(prompts) / seconds, 2),
        "latency_p50_s": round(statistics.median(latencies), 3),
    }


def student_figures(base: str, trained: str | None, examples: list[dspy.Example], compute_types: list[str]) -> dict:
    """Every student configuration on the same prompts."""
    prompts = [format_prompt(GenerateAnswer, ex.inputs()) for ex in examples]
    configs = [("transformers", "auto", 1), ("transformers", "auto", 16)]
    configs += [("ct2", compute_type, 1) for compute_type in compute_types]
    figures, stock = {}, None
    for backend, compute_type, batch in configs:
        lm = StudentLM.from_base(base, trained, backend=backend, compute_type=compute_type, batch_size=max(batch, 16))
        answers, row = measure_student(lm, prompts, batch)
        stock = stock or answers
        row["em"] = em(answers, examples)
        row["identical_to_stock"] = sum(a == b for a, b in zip(answers, stock, strict=True))
        figures[f"{row['backend']}/{row['compute_type']}/batch{batch}"] = row
        print(json.dumps(row), file=sys.stderr)  # progress: each configuration as it finishes
        lm.student_engine.unload()
    base_rate = next(iter(figures.values()))["answers_per_s"]
    for row in figures.values():
        row["speedup_vs_stock"] = round(row["answers_per_s"] / base_rate, 2)
    return figures


def teacher_figures(examples: list[dspy.Example], backends: list[str]) -> dict:
    """The offline teacher's questions/s through DSPy at 1 and 4 threads, per backend."""
    from engine.teacher import make_teacher

    predict = dspy.Predict(GenerateAnswer)
    figures = {}
    for backend in backends:
        lm = make_teacher(SMOLLM2, cache=False, backend=backend)
        predict.set_lm(lm)  # worker threads do not see a dspy.context
        predict(**examples[0].inputs())  # load outside the timing
        runs = {}
        for threads in (1, 4):
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                answers = list(pool.map(lambda ex: predict(**ex.inputs()).answer, examples))
            runs[threads] = (answers, len(examples) / (time.perf_counter() - started))
        used = lm.engine.used
        figures[f"{used['backend']}/{used['compute_type']}"] = {
            "questions_per_s_threads1": round(runs[1][1], 3),
            "questions_per_s_threads4": round(runs[4][1], 3),
            "speedup_threads4": round(runs[4][1] / runs[1][1], 2),
            "identical_answers_threads1_vs_4": sum(a == b for a, b in zip(runs[1][0], runs[4][0], strict=True)),
            "em_threads1": em(runs[1][0], examples),
        }
        lm.engine.unload()
    return figures


@click.command()
@click.option("--run", type=click.Path(file_okay=False, path_type=Path), default=None, help="A compiled run.")
@click.option("--adapter", type=click.Path(file_okay=False, path_type=Path), default=None, help="A trained dir.")
@click.option("--questions", default=100, show_default=True, help="Student test questions (0: skip).")
@click.option("--teacher-questions", default=16, show_default=True, help="Teacher test questions (0: skip).")
@click.option("--compute-types", default="float32,int8_float32,int8", show_default=True, help="CTranslate2 types.")
@click.option("--teacher-backends", default="transformers", show_default=True, help="Comma-separated.")
@out_option
@exit_cleanly_on_error
def main(run, adapter, questions, teacher_questions, compute_types, teacher_backends, out) -> None:
    """Measure the local LM engine's backends and batching; print JSON."""
    base, trained, described = student_source(run, adapter)
    examples = world_questions(max(questions, teacher_questions))
    print(f"student: {described}", file=sys.stderr)
    result = {"student": described, "data": f"world test, gold passages + distractors ({PASSAGES} passages)"}
    if questions:
        result["questions"] = questions
        result["student_systems"] = student_figures(base, trained, examples[:questions], compute_types.split(","))
    if teacher_questions:
        result["teacher_questions"] = teacher_questions
        result["teacher"] = teacher_figures(examples[:teacher_questions], teacher_backends.split(","))
    emit("engine", result, out)


if __name__ == "__main__":
    main()
