"""Train a student model on (prompt, completion) pairs with LoRA (or fully), and save it atomically.

`LoRATrainConfig` says what to train, `train_student` does it with peft + the Hugging Face Trainer
(`Seq2SeqTrainer` for T5-like models; `Trainer` with the loss on the answer tokens only for causal chat
models, whose prompt goes through the tokenizer's chat template). A slice of the pairs is held out; the
weights with the lowest validation loss are the ones saved. The same code runs under `torchrun` /
`accelerate launch` (the Trainer does the data-parallel part, see `finetune.trainer`; only rank 0 writes
the output, atomically, and every process waits for it).

The output directory holds a peft adapter (`adapter_config.json` + `adapter_model.safetensors`) or, with
`full_finetune`, a whole model directory; either way the student record (`finetune.record`) holds the base
model, its family and the training settings, so the directory can move and still be served (`finetune.lm`).

Speed (measured by `benchmarks.train`): pairs are tokenized once (`finetune.data`), batches group pairs of
similar length and are padded to their longest pair only, causal models project only the answer positions
onto the vocabulary, and `precision="auto"` trains under bf16 autocast on a CPU with native bf16
instructions (the weights and the saved adapter stay fp32).

Deliberate simplifications: the best weights are kept in memory rather than as Trainer checkpoints (no
resuming a killed run); prompts are expected within `max_input_tokens` already (the provider renders them in
that budget, `finetune.prompt`) and a longer one is cut at its end; out-of-memory batches
are retried at half size by the Trainer's `auto_find_batch_size`, and a batch of one that still does not
fit becomes a `ConfigError` naming the flag to lower.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

from core.atomic import atomic_dir, scratch_dir, write_json_atomic
from core.errors import ConfigError, DataError
from engine.devices import machine_precision
from engine.models import SMOLLM2, TINY_T5, Family, ResolvedModel, load_hf_model, resolve_model
from finetune.config import LoRATrainConfig, TrainResult
from finetune.data import completion_cap, encode_pair, split_pairs
from finetune.prompt import render_for_model
from finetune.record import ADAPTER_CONFIG, write_student_record, write_training_pairs
from finetune.trainer import best_weights_callback, make_trainer

logger = logging.getLogger(__name__)


def encode_pairs(tokenizer, family: Family, pairs: list[tuple[str, str]], config: LoRATrainConfig) -> list[dict]:
    """Pairs rendered for the model (`finetune.prompt.render_for_model`) and tokenized once, before training; the
    completion cap is the config's, or sized from these pairs (`finetune.data.completion_cap`) when it has none."""
    cap = config.max_target_tokens or completion_cap(tokenizer, [c for _, c in pairs])
    limits = (config.max_input_tokens, cap)
    return [
        encode_pair(tokenizer, family, render_for_model(tokenizer, family, p, limits[0]), c, *limits) for p, c in pairs
    ]


def wrap_with_lora(model, family: Family, config: LoRATrainConfig):
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
        layers_to_transform=_top_layers(model, config.lora_layers),
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as err:
        raise ConfigError(f"cannot add LoRA to this model ({err}); set --target-modules") from None


def _top_layers(model, n: int | None) -> list[int] | None:
    """Indices of the top `n` transformer layers of `model` (None: every layer)."""
    if n is None:
        return None
    total = getattr(model.config, "num_hidden_layers", None) or model.config.num_layers
    if not 1 <= n <= total:
        raise ConfigError(f"lora_layers must be between 1 and the model's {total} layers, not {n}")
    return list(range(total - n, total))


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
        adapter_config = json.loads((tmp / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        adapter_config["base_model_name_or_path"] = peft_base_model(resolved)
        write_json_atomic(tmp / ADAPTER_CONFIG, adapter_config)
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


def _trainable_model(resolved: ResolvedModel, pairs: list[tuple[str, str]], config: LoRATrainConfig):
    """(model, tokenizer, config): the base model in fp32 on the CPU with LoRA (or every weight) trainable, its
    tokenizer padding on the right, and `config` with `max_target_tokens` measured on the completions when unset."""
    import torch

    model, tokenizer = load_hf_model(resolved, device="cpu", dtype=torch.float32)
    tokenizer.padding_side = "right"
    if config.max_target_tokens is None:
        config = replace(config, max_target_tokens=completion_cap(tokenizer, [c for _, c in pairs]))
    return wrap_with_lora(model.train(), resolved.family, config), tokenizer, config


def _train_timed(trainer) -> float:
    """Run `trainer.train()` and return its seconds; a batch of one that still runs out of memory is a `ConfigError`."""
    import torch

    started = time.perf_counter()
    try:
        trainer.train()
    except (torch.OutOfMemoryError, RuntimeError) as err:
        if "batch size" not in str(err) and not isinstance(err, torch.OutOfMemoryError):
            raise
        raise ConfigError(
            f"out of memory even at batch size 1 ({err}); lower --max-input-tokens or --max-target-tokens"
        ) from None
    return time.perf_counter() - started


def _parameter_counts(model) -> tuple[int, int]:
    """(trainable, total) parameters of `model`, logged."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("trainable parameters: %d of %d (%.2f%%)", trainable, total, 100 * trainable / total)
    return trainable, total


def _encoded_split(tokenizer, family: Family, pairs: list[tuple[str, str]], config: LoRATrainConfig):
    """(train set, validation set): the pairs split by `config.val_fraction` and `config.seed`, each encoded."""
    train_pairs, val_pairs = split_pairs(pairs, config.val_fraction, config.seed)
    return encode_pairs(tokenizer, family, train_pairs, config), encode_pairs(tokenizer, family, val_pairs, config)


def _fit(model, tokenizer, family: Family, train_set: list, val_set: list, config: LoRATrainConfig):
    """(trainer, best-weights callback, seconds): `model` trained in a scratch directory, its best weights restored."""
    best = best_weights_callback(config.time_budget_s)
    with scratch_dir("ragdistill-trainer-") as workdir:
        trainer = make_trainer(model, tokenizer, family, train_set, val_set, config, Path(workdir))
        trainer.add_callback(best)
        seconds = _train_timed(trainer)
        best.restore_best(trainer.model)
    return trainer, best, seconds


def _log_trained(result: TrainResult) -> None:
    """One log line with the run's epochs, seconds, throughput, precision and best validation loss."""
    logger.info(
        "trained %.2f epochs in %.1f s (%.2f examples/s, %s); best validation loss %s",
        result.epochs_completed,
        result.train_seconds,
        result.examples_per_second,
        result.precision,
        result.best_val_loss,
    )


def train_student(
    pairs: list[tuple[str, str]], base_model: str, out_dir: str | os.PathLike, config: LoRATrainConfig | None = None
) -> TrainResult:
    """Train `base_model` on (prompt, completion) pairs and save the student to `out_dir`, atomically.

    Args:
        pairs: the (prompt, completion) pairs; a slice of them (`config.val_fraction`) is held out for validation.
        base_model: a spec for `engine.models.resolve_model` (a local directory, `tiny-t5`, `smollm2`, a hub id).
        out_dir: the directory to write (a peft adapter, or a whole model with `full_finetune`, + `student.json`).
        config: the training settings (`LoRATrainConfig()` when None).

    Returns:
        The run's figures (pairs, parameters, best validation loss, seconds, throughput, precision...).

    Raises:
        DataError: there are no pairs.
        ModelNotFoundError: the base model cannot be found or loaded.
        ConfigError: a setting cannot be used, or a batch of one does not fit in memory.
    """
    from transformers import set_seed

    config = config or LoRATrainConfig()
    if not pairs:
        raise DataError("no (prompt, completion) pairs to train on")
    resolved = resolve_model(base_model)
    if resolved.note:
        logger.warning(resolved.note)
    set_seed(config.seed)
    model, tokenizer, config = _trainable_model(resolved, pairs, config)
    trainable, total = _parameter_counts(model)
    family = resolved.family
    train_set, val_set = _encoded_split(tokenizer, family, pairs, config)
    out_dir = Path(out_dir)
    trainer, best, seconds = _fit(model, tokenizer, family, train_set, val_set, config)
    epochs_done = trainer.state.epoch or 0.0
    result = TrainResult(
        out_dir=out_dir,
        train_pairs=len(train_set),
        val_pairs=len(val_set),
        trainable_params=trainable,
        total_params=total,
        best_val_loss=best.best_loss,
        train_seconds=seconds,
        examples_per_second=epochs_done * len(train_set) / max(seconds, 1e-9),
        epochs_completed=epochs_done,
        batch_size=trainer.state.train_batch_size or trainer.args.per_device_train_batch_size,
        precision=machine_precision(config.precision, family),
        peak_memory_mb=_peak_memory_mb(),
        processes=trainer.args.world_size,
    )
    _log_trained(result)
    if trainer.is_world_process_zero():
        with atomic_dir(out_dir) as tmp:
            _write_student_dir(tmp, trainer.model, tokenizer, resolved, config, result)
            write_training_pairs(tmp, pairs)
    trainer.accelerator.wait_for_everyone()  # no process returns before the output is in place
    return result
