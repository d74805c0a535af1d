"""Distillation benchmark: training cost, student vs teacher speed, and answer quality before/after.

    python -m benchmarks.distill [--student tiny-t5|smollm2|DIR] [--teacher dummy|smollm2] [--train-size 200]
                                 [--test-size 100] [--epochs 3] [--learning-rate ...] [--time-budget-s ...]

Data: the bundled world (train and test splits; context = the gold passages, so this measures the student
alone, without retrieval errors). The teacher is an oracle `DummyLM` answering with the gold
answer ("dummy": it measures DSPy's overhead, not a model) or the offline SmolLM2 (`engine.teacher`).
`Distill(targets="both")` trains the student; every figure comes from that one run.

Printed JSON: train examples/s, peak memory, trainable params and share (from the trained dir's student.json),
student answers/s (batched `generate`) and through DSPy (one call per question), teacher answers/s through
DSPy on the same questions, and exact match / token F1 of the base and the distilled student on the test split.

Simplified: peak memory is the
process's max RSS on CPU (GPU max allocated on a GPU); the teacher is timed on at most --teacher-questions.
"""

from __future__ import annotations

import contextlib
import resource
import sys
import tempfile
import time
from pathlib import Path

import click
import dspy

from benchmarks.results import emit, out_option
from core.errors import exit_cleanly_on_error
from data.loaders import WORLD_CORPUS, load_corpus, load_examples
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from finetune.prompt import format_prompt
from finetune.record import read_student_record
from optimizers.distill import Distill
from optimizers.metrics import answer_exact_match, exact_match, gold_answers, token_f1

SIGNATURE = dspy.Signature("context, question -> answer")


def world_examples(split: str, limit: int) -> list[dspy.Example]:
    """The bundled world's QA split, with the gold passages as context."""
    corpus = {passage.pid: passage.as_context() for passage in load_corpus(WORLD_CORPUS)}
    return [
        dspy.Example(
            question=ex.question, context=[corpus[pid] for pid in ex.gold_pids], answer=ex.answer, answers=ex.answers
        ).with_inputs("question", "context")
        for ex in load_examples(split, limit=limit)
    ]


def teacher_lm(spec: str, examples: list[dspy.Example]) -> dspy.LM:
    if spec == "dummy":
        return dspy.utils.DummyLM({ex.question: {"answer": ex.answer} for ex in examples})
    from engine.teacher import make_teacher

    return make_teacher(spec, max_new_tokens=16, cache=False)


def quality(answers: list[str], examples: list[dspy.Example]) -> dict[str, float]:
    em = sum(exact_match(a, gold_answers(ex)) for a, ex in zip(answers, examples, strict=True))
    f1 = sum(token_f1(a, gold_answers(ex)) for a, ex in zip(answers, examples, strict=True))
    return {"em": round(100 * em / len(examples), 1), "f1": round(100 * f1 / len(examples), 1)}


def timed_generate(lm: StudentLM, examples: list[dspy.Example]) -> tuple[list[str], float]:
    prompts = [format_prompt(SIGNATURE, ex.inputs()) for ex in examples]
    lm.generate(prompts[:1])  # load the weights outside the timing
    started = time.perf_counter()
    answers = lm.generate(prompts)
    return answers, len(prompts) / (time.perf_counter() - started)


def dspy_answers_per_second(program: dspy.Module, examples: list[dspy.Example]) -> float:
    started = time.perf_counter()
    for ex in examples:
        program(**ex.inputs())
    return len(examples) / (time.perf_counter() - started)


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@click.command()
@click.option("--student", default="tiny-t5", show_default=True, help="Student base: tiny-t5, smollm2 or a dir.")
@click.option("--teacher", default="dummy", show_default=True, help="dummy (oracle DummyLM) or smollm2.")
@click.option("--train-size", default=200, show_default=True)
@click.option("--test-size", default=100, show_default=True)
@click.option("--teacher-questions", default=20, show_default=True, help="Questions the teacher is timed on.")
@click.option("--epochs", default=3.0, show_default=True)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--learning-rate", type=float, default=None, help="Default: by family (see LoRATrainConfig).")
@click.option("--full-finetune/--lora", default=False, show_default=True)
@click.option("--time-budget-s", type=float, default=None, help="Stop training after this many seconds.")
@out_option
@exit_cleanly_on_error
def main(student, teacher, train_size, test_size, teacher_questions, epochs, batch_size, learning_rate,
         full_finetune, time_budget_s, out) -> None:  # fmt: skip
    """Distill a teacher into a student on a QA world and print the figures as JSON."""
    trainset, testset = world_examples("train", train_size), world_examples("test", test_size)
    base_lm = StudentLM.from_base(student, batch_size=16)
    base_answers, _ = timed_generate(base_lm, testset)
    base_lm.student_engine.unload()

    teacher_program = dspy.Predict(SIGNATURE)
    teacher_program.set_lm(teacher_lm(teacher, trainset + testset))
    with tempfile.TemporaryDirectory() as tmp:
        train_kwargs = {
            "epochs": epochs,
            "batch_size": batch_size,
            "full_finetune": full_finetune,
            "time_budget_s": time_budget_s,
            "output_dir": str(Path(tmp) / "student"),
        }
        if learning_rate is not None:
            train_kwargs["learning_rate"] = learning_rate
        optimizer = Distill(answer_exact_match, student_lm=base_lm, targets="both", train_kwargs=train_kwargs)
        # DSPy's bootstrap progress bar writes to stdout, which carries only the JSON here.
        with dspy.context(adapter=StudentAdapter()), contextlib.redirect_stdout(sys.stderr):
            compiled = optimizer.compile(dspy.Predict(SIGNATURE), trainset=trainset, teacher=teacher_program)
        with dspy.context(adapter=StudentAdapter()):
            record = read_student_record(Path(tmp) / "student")
            answers, batched_rate = timed_generate(compiled.lm, testset)
            dspy_rate = dspy_answers_per_second(compiled, testset[:teacher_questions])
            teacher_rate = dspy_answers_per_second(teacher_program, testset[:teacher_questions])
    result = record["result"]
    emit(
        "distill",
        {
            "data": "world (gold passages as context)",
            "student": student,
            "teacher": teacher,
            "train_examples": len(trainset),
            "test_examples": len(testset),
            "targets": optimizer.stats,
            "train_config": record["train_config"],
            "train_examples_per_s": round(result["examples_per_second"], 2),
            "train_seconds": round(result["train_seconds"], 1),
            "peak_memory_mb": round(peak_memory_mb(), 1),
            "trainable_params": result["trainable_params"],
            "total_params": result["total_params"],
            "trainable_share": round(result["trainable_share"], 4),
            "student_answers_per_s_batched": round(batched_rate, 2),
            "student_answers_per_s_dspy": round(dspy_rate, 2),
            "teacher_answers_per_s_dspy": round(teacher_rate, 2),
            "base": quality(base_answers, testset),
            "distilled": quality(answers, testset),
        },
        out,
    )


if __name__ == "__main__":
    main()
