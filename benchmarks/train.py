"""Training benchmark: seconds per example and final exact match of the LoRA student, per speed lever.

    python -m benchmarks.train [--student smollm2] [--train-size 96] [--test-size 40] [--steps 12]
                               [--batch-size 8] [--variants fp32,bf16,top10] [--threads N]

Data: the bundled world's questions as the compile's student sees them: the answer prompt
(`finetune.prompt.format_prompt`) over five passages, the gold ones plus BM25 distractors (about 230-300
tokens in the chat template), with the gold answer as the target; the test questions are held out.

Every variant trains the same base on the same pairs for the same number of steps (`max_steps`), then
answers the test questions (batched greedy `generate`). Variants: `fp32`, `bf16` (autocast; fp32 weights),
`topN` (fp32, LoRA on the top N layers only), and combinations such as `bf16+top10`. Two levers that do not
change the result are measured without training: the share of padding tokens in an epoch of random vs
length-grouped batches, and one training step with logits over every position vs the answer positions only.

Printed JSON: per variant, wall and CPU seconds per training example, the precision that ran, and EM/F1 on
the test questions; the padding shares; the step times. Simplified: one seed, one run per variant, in
sequence, so a busy machine skews wall times (the CPU seconds of this process are less sensitive).
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

import click
import dspy

from benchmarks.distill import SIGNATURE, quality, world_examples
from benchmarks.results import emit, out_option
from core.errors import ConfigError, exit_cleanly_on_error
from data.loaders import WORLD_CORPUS, load_corpus
from finetune.config import LoRATrainConfig
from finetune.lm import StudentLM
from finetune.lora import train_student
from finetune.prompt import format_prompt

PASSAGES = 5


def rag_examples(split: str, limit: int) -> list[dspy.Example]:
    """World examples whose context is the gold passages topped up to five with BM25 distractors."""
    from retrieval.bm25 import index_passages, tokenize

    corpus = load_corpus(WORLD_CORPUS)
    bm25 = index_passages(corpus)
    examples = world_examples(split, limit)
    hits, _ = bm25.retrieve(tokenize([ex.question for ex in examples]), k=2 * PASSAGES, show_progress=False)
    for ex, row in zip(examples, hits, strict=True):
        distractors = [corpus[i].as_context() for i in row if corpus[i].as_context() not in ex.context]
        context = list(ex.context) + distractors[: PASSAGES - len(ex.context)]
        ex.context = random.Random(ex.question).sample(context, len(context))
    return examples


def prompts_of(examples: list[dspy.Example]) -> list[str]:
    return [format_prompt(SIGNATURE, ex.inputs()) for ex in examples]


def variant_config(name: str, steps: int, batch_size: int) -> LoRATrainConfig:
    """`fp32`, `bf16`, `topN` or `+`-joined combinations, as a training config."""
    config = LoRATrainConfig(max_steps=steps, batch_size=batch_size, precision="fp32", val_fraction=0)
    for part in name.split("+"):
        if part in ("fp32", "bf16"):
            config.precision = part
        elif part.startswith("top") and part[3:].isdigit():
            config.lora_layers = int(part[3:])
        else:
            raise ConfigError(f"unknown variant part {part!r}: use fp32, bf16 or topN, joined with +")
    return config


def run_variant(name: str, pairs, test: list[dspy.Example], student: str, steps: int, batch_size: int) -> dict:
    config = variant_config(name, steps, batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        cpu_started = time.process_time()
        result = train_student(pairs, student, Path(tmp) / "student", config)
        cpu_seconds = time.process_time() - cpu_started
        answers = StudentLM.from_trained(Path(tmp) / "student").generate(prompts_of(test))
    examples = steps * result.batch_size
    figures = {
        "precision": result.precision,
        "lora_layers": config.lora_layers,
        "train_examples": examples,
        "epochs": round(result.epochs_completed, 2),
        "seconds_per_example": round(result.train_seconds / examples, 3),
        "cpu_seconds_per_example": round(cpu_seconds / examples, 3),
        **quality(answers, test),
    }
    print(json.dumps({name: figures}), file=sys.stderr, flush=True)
    return figures


def padding_shares(pairs, student: str, batch_size: int, seed: int = 0) -> dict[str, float]:
    """Padding tokens as a share of all tokens over one epoch: random batches vs the Trainer's length grouping."""
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from engine.models import load_hf_model, resolve_model
    from finetune.lora import encode_pairs

    resolved = resolve_model(student)
    _, tokenizer = load_hf_model(resolved, device="cpu")
    lengths = [len(pair["input_ids"]) for pair in encode_pairs(tokenizer, resolved.family, pairs, LoRATrainConfig())]
    generator = torch.Generator().manual_seed(seed)
    orders = {
        "random": torch.randperm(len(lengths), generator=generator).tolist(),
        "length_grouped": get_length_grouped_indices(lengths, batch_size, generator=generator),
    }
    shares = {}
    for name, order in orders.items():
        batches = [[lengths[i] for i in order[j : j + batch_size]] for j in range(0, len(order), batch_size)]
        padded = sum(max(batch) * len(batch) for batch in batches)
        shares[name] = round(1 - sum(lengths) / padded, 3)
    return {"tokens_per_pair_mean": round(sum(lengths) / len(lengths), 1), "padding_share": shares}


def step_seconds(pairs, student: str, batch_size: int, bf16: bool, rounds: int = 1) -> dict[str, dict] | None:
    """Wall and CPU seconds of one forward+backward on one batch of a causal student: logits at every position vs
    the answer positions only (fp32), and the latter under bf16 autocast (with `bf16`)."""
    import torch
    from transformers import DataCollatorForSeq2Seq

    from engine.models import load_hf_model, resolve_model
    from finetune.data import AnswerCollator, answer_token_loss
    from finetune.lora import encode_pairs, wrap_with_lora

    resolved = resolve_model(student)
    if resolved.family != "causal":
        return None
    model, tokenizer = load_hf_model(resolved, device="cpu")
    tokenizer.padding_side = "right"
    model = wrap_with_lora(model.train(), resolved.family, LoRATrainConfig())
    encoded = encode_pairs(tokenizer, resolved.family, pairs[:batch_size], LoRATrainConfig())
    batch = AnswerCollator(DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100))(encoded)
    keep = batch.pop("logits_to_keep")

    def answer_loss():
        outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep)
        return answer_token_loss(outputs, batch["labels"])

    def bf16_answer_loss():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return answer_loss()

    steps = {
        "fp32_all_positions": lambda: model(**batch).loss,
        "fp32_answer_positions": answer_loss,
        "bf16_answer_positions": bf16_answer_loss,
    }
    if not bf16:
        del steps["bf16_answer_positions"]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in steps}
    for round_ in range(rounds + 1):
        for name, loss in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            loss().backward()
            model.zero_grad()
            if round_:  # the first round warms up
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    figures = {
        name: {
            "seconds": round(sum(w for w, _ in runs) / rounds, 2),
            "cpu_seconds": round(sum(c for _, c in runs) / rounds, 2),
        }
        for name, runs in times.items()
    }
    print(json.dumps({"one_step": figures}), file=sys.stderr, flush=True)
    return figures


@click.command()
@click.option("--student", default="smollm2", show_default=True, help="Student base: smollm2, tiny-t5 or a dir.")
@click.option("--train-size", default=96, show_default=True, help="Training pairs (world train split).")
@click.option("--test-size", default=40, show_default=True, help="Held-out test questions.")
@click.option("--steps", default=12, show_default=True, help="Optimizer steps per variant.")
@click.option("--batch-size", default=8, show_default=True)
@click.option("--variants", default="fp32,bf16,top10", show_default=True, help="Comma-separated variants.")
@click.option("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
@click.option("--one-step/--no-one-step", default=True, show_default=True, help="Time one step per loss and precision.")
@out_option
@exit_cleanly_on_error
def main(student, train_size, test_size, steps, batch_size, variants, threads, one_step, out) -> None:
    """Train the student once per variant on the same pairs and print seconds/example and EM as JSON."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    names = [name.strip() for name in variants.split(",") if name.strip()]
    for name in names:
        variant_config(name, steps, batch_size)
    train, test = rag_examples("train", train_size), rag_examples("test", test_size)
    pairs = list(zip(prompts_of(train), [ex.answer for ex in train], strict=True))
    report = {
        "data": f"world, gold + BM25 distractor passages ({PASSAGES}), gold answers as targets",
        "student": student,
        "train_pairs": len(pairs),
        "test_questions": len(test),
        "steps": steps,
        "batch_size": batch_size,
        "torch_threads": torch.get_num_threads(),
        **padding_shares(pairs, student, batch_size),
        "one_step": step_seconds(pairs, student, batch_size, bf16="bf16" in variants) if one_step else None,
        "variants": {name: run_variant(name, pairs, test, student, steps, batch_size) for name in names},
    }
    emit("train", report, out)


if __name__ == "__main__":
    main()
