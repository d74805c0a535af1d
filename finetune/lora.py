"""Train a student model on (prompt, completion) pairs with LoRA (or fully), and save it atomically.

`LoRATrainConfig` says what to train, `train_student` does it with peft + the Hugging Face Trainer
(`Seq2SeqTrainer` for T5-like models; `Trainer` with the loss on the answer tokens only for causal chat
models, whose prompt goes through the tokenizer's chat template). A slice of the pairs is held out; the
weights with the lowest validation loss are the ones saved. The same code runs under `torchrun` /
`accelerate launch` (the Trainer does the data-parallel part; only rank 0 writes the output).

The output directory holds a peft adapter (`adapter_config.json` + `adapter_model.safetensors`) or, with
`full_finetune`, a whole model directory; either way the student record (`finetune.record`) holds the base
model, its family and the training settings, so the directory can move and still be served (`finetune.lm`).

Deliberate simplifications: the best weights are kept in memory rather than as Trainer checkpoints (no
resuming a killed run); prompts longer than `max_input_tokens` are cut at the end; out-of-memory batches
are retried at half size by the Trainer's `auto_find_batch_size`, and a batch of one that still does not
fit becomes a `RagdistillError` naming the flag to lower.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.atomic import atomic_dir, write_json_atomic
from core.errors import RagdistillError
from engine.models import SMOLLM2, TINY_T5, Family, ResolvedModel, load_hf_model, resolve_model
from finetune.record import write_student_record

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {"seq2seq": ("q", "v"), "causal": ("q_proj", "v_proj")}
# t5-small's seed learning rate; SmolLM2-135M with LoRA measured best at 1e-3 (see docs on the offline student).
DEFAULT_LEARNING_RATES: dict[str, float] = {"seq2seq": 1e-4, "causal": 1e-3}


@dataclass
class LoRATrainConfig:
    """What to train and how; every field is also a `python -m finetune.train` option."""

    r: int = 16
    """LoRA rank: the width of each low-rank update."""
    alpha: int = 32
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    dropout: float = 0.05
    """Dropout on the LoRA input."""
    target_modules: tuple[str, ...] | None = None
    """Module names that get LoRA updates; default q,v for seq2seq and q_proj,v_proj for causal models."""
    learning_rate: float | None = None
    """Peak AdamW learning rate; default 1e-4 for seq2seq, 1e-3 for causal (measured best for SmolLM2)."""
    epochs: float = 3.0
    """Passes over the training pairs (ignored when max_steps is set)."""
    batch_size: int = 8
    """Pairs per device per step; halved automatically when a batch runs out of memory."""
    max_input_tokens: int = 512
    """Prompt length cap in tokens; longer prompts are cut at the end."""
    max_target_tokens: int = 64
    """Completion length cap in tokens, in training and as the generation cap when served."""
    precision: str = "auto"
    """"auto" (bf16 on a GPU that has it, fp16 on other GPUs for causal models, else fp32), "fp32", "fp16", "bf16"."""
    val_fraction: float = 0.1
    """Share of the pairs held out to pick the best weights (at least one pair when there are two or more)."""
    seed: int = 0
    """Seed for the LoRA initialisation, the split and the data order."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (overrides epochs)."""
    time_budget_s: float | None = None
    """Stop training after this many seconds (the best weights so far are kept)."""
    full_finetune: bool = False
    """Train every weight instead of a LoRA adapter: the right choice for a randomly initialised tiny model."""
    warmup: float = 0.1
    """Learning-rate warm-up, as a share of the steps (< 1) or a number of steps."""
    progress: bool = False
    """Show the Trainer's progress bar and loss logs."""

    def resolved_targets(self, family: Family) -> list[str]:
        """The LoRA target modules for `family`."""
        return list(self.target_modules or DEFAULT_TARGETS[family])

    def resolved_learning_rate(self, family: Family) -> float:
        """The learning rate for `family`."""
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LEARNING_RATES[family]


@dataclass
class TrainResult:
    """What a training run produced and how fast it went."""

    out_dir: Path
    """The saved adapter (or full model) directory."""
    train_pairs: int
    """Pairs trained on."""
    val_pairs: int
    """Pairs held out for validation."""
    trainable_params: int
    """Weights updated by training."""
    total_params: int
    """All weights of the (adapted) model."""
    best_val_loss: float | None
    """Validation loss of the saved weights (None without a validation slice)."""
    train_seconds: float
    """Wall-clock time of the training loop."""
    examples_per_second: float
    """Training pairs processed per second (over all epochs)."""
    batch_size: int
    """The batch size that finally ran (smaller than asked after out-of-memory retries)."""
    peak_memory_mb: float | None = field(default=None)
    """Peak GPU memory in MiB (None on CPU)."""

    @property
    def trainable_share(self) -> float:
        """Trainable weights as a share of all weights."""
        return self.trainable_params / max(self.total_params, 1)


def render_prompt(tokenizer: PreTrainedTokenizerBase, family: Family, prompt: str, max_input_tokens: int) -> str:
    """The text the model reads: the prompt cut to `max_input_tokens`, inside the chat template for causal models.

    Training and serving (`finetune.lm`) both call this, so the student sees the same text in both.
    """
    ids = tokenizer(prompt, add_special_tokens=False, truncation=True, max_length=max_input_tokens)["input_ids"]
    if len(ids) == max_input_tokens:
        prompt = tokenizer.decode(ids)
    if family == "seq2seq" or not tokenizer.chat_template:
        return prompt
    messages = [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _encode(tokenizer, family: Family, prompt: str, completion: str, config: LoRATrainConfig) -> dict[str, list]:
    """Token ids and labels of one pair; causal labels mask the prompt with -100 (loss on the answer only)."""
    text = render_prompt(tokenizer, family, prompt, config.max_input_tokens)
    if family == "seq2seq":
        input_ids = tokenizer(text, truncation=True, max_length=config.max_input_tokens)["input_ids"]
        labels = tokenizer(text_target=completion, truncation=True, max_length=config.max_target_tokens)["input_ids"]
        return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}
    prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(completion, add_special_tokens=False)["input_ids"][: config.max_target_tokens - 1]
    answer_ids = answer_ids + [tokenizer.eos_token_id]
    input_ids = prompt_ids + answer_ids
    labels = [-100] * len(prompt_ids) + answer_ids
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}


def _split(pairs: list[tuple[str, str]], config: LoRATrainConfig) -> tuple[list, list]:
    """(train, validation) pairs, shuffled with the seed."""
    import random

    shuffled = list(pairs)
    random.Random(config.seed).shuffle(shuffled)
    n_val = math.ceil(len(shuffled) * config.val_fraction) if len(shuffled) >= 2 and config.val_fraction > 0 else 0
    return shuffled[n_val:], shuffled[:n_val]


def _precision_flags(precision: str, family: Family) -> dict[str, bool]:
    """Trainer flags for mixed precision; fp16 is never picked automatically for T5 (it overflows)."""
    import torch

    if precision == "auto":
        if not torch.cuda.is_available():
            precision = "fp32"
        elif torch.cuda.is_bf16_supported():
            precision = "bf16"
        else:
            precision = "fp16" if family == "causal" else "fp32"
    if precision not in ("fp32", "fp16", "bf16"):
        raise RagdistillError(f"precision must be auto, fp32, fp16 or bf16, not '{precision}'")
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}


def _best_weights_callback(time_budget_s: float | None):
    """A TrainerCallback keeping the trainable weights of the best evaluation in memory, and a time budget."""
    from transformers import TrainerCallback

    class BestWeights(TrainerCallback):
        def __init__(self):
            self.best_loss: float | None = None
            self.best_state: dict | None = None
            self.started = time.perf_counter()

        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
            loss = (metrics or {}).get("eval_loss")
            if loss is not None and (self.best_loss is None or loss < self.best_loss):
                self.best_loss = loss
                self.best_state = {
                    name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad
                }

        def on_step_end(self, args, state, control, **kwargs):
            if time_budget_s is not None and time.perf_counter() - self.started > time_budget_s:
                control.should_training_stop = True
                control.should_evaluate = args.eval_strategy != "no"

        def restore_best(self, model) -> None:
            if self.best_state is not None:
                model.load_state_dict(self.best_state, strict=False)

    return BestWeights()


def _wrap_with_lora(model, family: Family, config: LoRATrainConfig):
    """The model with LoRA updates on the target modules (or unchanged, all weights trainable, when full)."""
    if config.full_finetune:
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM if family == "seq2seq" else TaskType.CAUSAL_LM,
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=config.resolved_targets(family),
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as err:
        raise RagdistillError(f"cannot add LoRA to this model ({err}); set --target-modules") from None


def _training_arguments(workdir: Path, family: Family, config: LoRATrainConfig, has_val: bool):
    """The Trainer's arguments: evaluation every epoch (or ~10 times with max_steps), no checkpoints on disk."""
    import torch
    from transformers import Seq2SeqTrainingArguments, TrainingArguments

    by_steps = config.max_steps is not None
    eval_strategy = ("steps" if by_steps else "epoch") if has_val else "no"
    arguments_class = Seq2SeqTrainingArguments if family == "seq2seq" else TrainingArguments
    return arguments_class(
        output_dir=str(workdir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps if by_steps else -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        auto_find_batch_size=True,
        learning_rate=config.resolved_learning_rate(family),
        warmup_steps=config.warmup,
        eval_strategy=eval_strategy,
        eval_steps=max(1, (config.max_steps or 10) // 10) if by_steps else None,
        save_strategy="no",
        logging_strategy="steps" if config.progress else "no",
        logging_steps=10,
        disable_tqdm=not config.progress,
        report_to="none",
        dataloader_pin_memory=torch.cuda.is_available(),
        seed=config.seed,
        data_seed=config.seed,
        **_precision_flags(config.precision, family),
    )


def _peak_memory_mb() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def peft_base_model(resolved: ResolvedModel) -> str:
    """The adapter's `base_model_name_or_path`: what peft's `AutoPeftModelFor*.from_pretrained` can load.

    A Hugging Face id stays an id (it resolves on any machine with the hub); an offline alias (`tiny-t5`,
    `smollm2`, or a fallback) or a local directory becomes the local model directory, which peft can read
    here. `student.json` keeps the spec, and ragdistill's own loader prefers it, so a copied run still loads.
    """
    hub_id = resolved.name_used == resolved.spec and resolved.spec not in (TINY_T5, SMOLLM2)
    return resolved.spec if hub_id and not Path(resolved.spec).expanduser().is_dir() else str(resolved.path)


def _write_student_dir(
    tmp: Path, model, tokenizer, resolved: ResolvedModel, config: LoRATrainConfig, result: TrainResult
) -> None:
    """Save the weights, and `student.json` recording the base model, the settings and the run's figures."""
    model.save_pretrained(tmp)
    if config.full_finetune:
        tokenizer.save_pretrained(tmp)
    else:
        adapter_config = json.loads((tmp / "adapter_config.json").read_text(encoding="utf-8"))
        adapter_config["base_model_name_or_path"] = peft_base_model(resolved)
        write_json_atomic(tmp / "adapter_config.json", adapter_config)
    settings = {**asdict(config), "target_modules": config.resolved_targets(resolved.family)}
    settings["learning_rate"] = config.resolved_learning_rate(resolved.family)
    figures = {k: v for k, v in asdict(result).items() if k != "out_dir"}
    figures["trainable_share"] = result.trainable_share
    write_student_record(
        tmp,
        base_model=resolved.name_used,
        family=resolved.family,
        full_finetune=config.full_finetune,
        train_config=settings,
        result=figures,
    )


def train_student(
    pairs: list[tuple[str, str]], base_model: str, out_dir: str | os.PathLike, config: LoRATrainConfig | None = None
) -> TrainResult:
    """Train `base_model` (a spec for `engine.models.resolve_model`) on (prompt, completion) pairs into `out_dir`."""
    import torch
    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Seq2SeqTrainer, Trainer, set_seed

    config = config or LoRATrainConfig()
    if not pairs:
        raise RagdistillError("no (prompt, completion) pairs to train on")
    resolved = resolve_model(base_model)
    if resolved.note:
        logger.warning(resolved.note)
    set_seed(config.seed)
    model, tokenizer = load_hf_model(resolved, device="cpu", dtype=torch.float32)
    tokenizer.padding_side = "right"
    model = _wrap_with_lora(model.train(), resolved.family, config)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("trainable parameters: %d of %d (%.2f%%)", trainable, total, 100 * trainable / total)

    train_pairs, val_pairs = _split(pairs, config)
    train_set = [_encode(tokenizer, resolved.family, p, c, config) for p, c in train_pairs]
    val_set = [_encode(tokenizer, resolved.family, p, c, config) for p, c in val_pairs]
    out_dir = Path(out_dir)
    best = _best_weights_callback(config.time_budget_s)
    with tempfile.TemporaryDirectory(prefix="ragdistill-trainer-") as workdir:
        trainer_class = Seq2SeqTrainer if resolved.family == "seq2seq" else Trainer
        trainer = trainer_class(
            model=model,
            args=_training_arguments(Path(workdir), resolved.family, config, has_val=bool(val_set)),
            train_dataset=train_set,
            eval_dataset=val_set or None,
            data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
            processing_class=tokenizer,
            callbacks=[best],
        )
        if not config.progress:
            trainer.remove_callback(PrinterCallback)
        started = time.perf_counter()
        try:
            output = trainer.train()
        except (torch.OutOfMemoryError, RuntimeError) as err:
            if "batch size" not in str(err) and not isinstance(err, torch.OutOfMemoryError):
                raise
            raise RagdistillError(
                f"out of memory even at batch size 1 ({err}); lower --max-input-tokens or --max-target-tokens"
            ) from None
        seconds = time.perf_counter() - started
        best.restore_best(trainer.model)
    samples = output.metrics.get("train_samples_per_second") or len(train_set) * config.epochs / max(seconds, 1e-9)
    result = TrainResult(
        out_dir=out_dir,
        train_pairs=len(train_set),
        val_pairs=len(val_set),
        trainable_params=trainable,
        total_params=total,
        best_val_loss=best.best_loss,
        train_seconds=seconds,
        examples_per_second=samples,
        batch_size=trainer.state.train_batch_size or config.batch_size,
        peak_memory_mb=_peak_memory_mb(),
    )
    logger.info("trained in %.1f s (%.1f examples/s); best validation loss %s", seconds, samples, best.best_loss)
    if trainer.is_world_process_zero():
        with atomic_dir(out_dir) as tmp:
            _write_student_dir(tmp, trainer.model, tokenizer, resolved, config, result)
    return result
