"""The Hugging Face Trainer as `finetune.lora` drives it: precision, arguments, best weights, time budget.

`make_trainer` assembles a Trainer over already-encoded pairs (`finetune.data`): batches grouped by length
and padded to their longest pair, the loss on the answer tokens (only their logits computed, for causal
models that allow it), evaluation every epoch, no checkpoints on disk. The device and precision follow
`engine.devices` (e.g. bf16 autocast where the hardware computes bf16 natively); autocast keeps the weights in
fp32, so the saved adapter is fp32 either way.

Under `accelerate launch` (or `torchrun`) the Trainer trains data-parallel (DDP; gloo on CPU, NCCL on GPUs):
`batch_size` is per process, the evaluation loss is averaged over all processes (so every process keeps
the same best weights), and the time budget is agreed by all processes so that they stop at the same step.

A run the time budget will stop before its epochs still ends annealed: the learning rate decays by steps or by
the clock, whichever is further along, so it reaches zero at the budget's end instead of being cut off mid-schedule
(on the default run, a 2-epoch schedule stopped at 1.59 epochs would otherwise end at a fifth of its peak rate).

Simplified: the best weights are kept in memory (no checkpoints, no resuming a killed run); the time budget
is checked after each optimizer step, so a run ends up to one step late, and the clock's share of the decay is
read one step late too (after each step, from the slowest process).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.devices import default_device, machine_precision
from engine.models import Family
from finetune.data import AnswerCollator, answer_token_loss, keeps_answer_logits

if TYPE_CHECKING:
    from finetune.config import LoRATrainConfig


def slowest_clock(seconds: float, device) -> float:
    """The largest of `seconds` over the processes of the data-parallel group (one all-reduce)."""
    import torch
    import torch.distributed as dist

    value = torch.tensor([seconds], dtype=torch.float64, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return float(value.item())


def best_weights_callback(time_budget_s: float | None):
    """A TrainerCallback keeping the trainable weights of the best evaluation in memory, and a time budget that
    stops training and decays the learning rate to zero by its end."""
    from transformers import TrainerCallback

    class BestWeights(TrainerCallback):
        def __init__(self):
            self.best_loss: float | None = None
            self.best_state: dict | None = None
            self.started = time.perf_counter()
            self.budget_left = 1.0  # the share of the time budget not yet spent, as of the last step

        def on_train_begin(self, args, state, control, lr_scheduler=None, **kwargs):
            if time_budget_s is not None and lr_scheduler is not None:
                lr_scheduler.lr_lambdas = [self.by_clock(factor) for factor in lr_scheduler.lr_lambdas]

        def by_clock(self, factor):
            """The schedule's `factor`, capped by the share of the budget left: by steps or by the clock."""
            return lambda step: min(factor(step), self.budget_left)

        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
            loss = (metrics or {}).get("eval_loss")
            if loss is not None and (self.best_loss is None or loss < self.best_loss):
                self.best_loss = loss
                self.best_state = {
                    name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad
                }

        def on_step_end(self, args, state, control, **kwargs):
            if time_budget_s is None:
                return
            spent = time.perf_counter() - self.started
            if args.world_size > 1:  # every process stops at the same step (or the others wait for it forever)
                spent = slowest_clock(spent, args.device)  # and decays its learning rate alike
            self.budget_left = max(0.0, 1.0 - spent / time_budget_s) if time_budget_s > 0 else 0.0
            if self.budget_left == 0.0:  # evaluated at this step; by epoch, the epoch end after the stop evaluates
                control.should_training_stop = True
                control.should_evaluate = args.eval_strategy == "steps"

        def restore_best(self, model) -> None:
            if self.best_state is not None:
                model.load_state_dict(self.best_state, strict=False)

    return BestWeights()


def _training_arguments(
    workdir: Path, family: Family, config: LoRATrainConfig, precision: str, has_val: bool, batch_size: int
):
    """The Trainer's arguments: length-grouped batches, evaluation every epoch (or ~10 times with max_steps)."""
    from transformers import Seq2SeqTrainingArguments, TrainingArguments

    by_steps, on_gpu = config.max_steps is not None, default_device() == "cuda"
    eval_strategy = ("steps" if by_steps else "epoch") if has_val else "no"
    arguments_class = Seq2SeqTrainingArguments if family == "seq2seq" else TrainingArguments
    return arguments_class(
        output_dir=str(workdir),
        num_train_epochs=config.resolved_epochs(),
        max_steps=config.max_steps if by_steps else -1,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
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
        dataloader_pin_memory=on_gpu,
        train_sampling_strategy="group_by_length",
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not on_gpu,
        ddp_find_unused_parameters=False,  # every trainable weight takes part in each step: skip the extra graph walk
        fp16=precision == "fp16",
        bf16=precision == "bf16",
    )


def make_trainer(
    model, tokenizer, family: Family, train_set: list, val_set: list, config: LoRATrainConfig, workdir: Path
):
    """The Hugging Face Trainer for encoded pairs: length-grouped, padded per batch, answer-only logits if possible."""
    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Seq2SeqTrainer, Trainer

    precision = machine_precision(config.precision, family)
    collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
    answer_only = family == "causal" and keeps_answer_logits(model)
    batch_size = config.resolved_batch_size(len(train_set), processes=int(os.environ.get("WORLD_SIZE", "1")))
    trainer = (Seq2SeqTrainer if family == "seq2seq" else Trainer)(
        model=model,
        args=_training_arguments(workdir, family, config, precision, has_val=bool(val_set), batch_size=batch_size),
        train_dataset=train_set,
        eval_dataset=val_set or None,
        data_collator=AnswerCollator(collator) if answer_only else collator,
        compute_loss_func=answer_token_loss if answer_only else None,
        processing_class=tokenizer,
    )
    if not config.progress:
        trainer.remove_callback(PrinterCallback)
    return trainer
