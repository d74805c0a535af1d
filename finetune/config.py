"""What a student training run is asked to do (`LoRATrainConfig`) and what it produced (`TrainResult`).

The config / model / trainer split follows peft: this module holds plain settings and figures only, so the
trainer (`finetune.trainer`) and the training entry point (`finetune.lora`) can both import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.models import Family

# Causal students get LoRA on every linear layer of each block: on a 48-example typed classifier (SmolLM2, 3 epochs)
# that took the distilled student from 65% to 92.5% of the teacher, where attention's q and v alone underfit.
CAUSAL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {"seq2seq": ("q", "v"), "causal": CAUSAL_LINEAR}
# t5-small's seed learning rate; SmolLM2-135M with LoRA measured best at 1e-3 (see docs on the offline student).
DEFAULT_LEARNING_RATES: dict[str, float] = {"seq2seq": 1e-4, "causal": 1e-3}
# Epochs when none are given: the own-program benchmark (48 examples per program) trains 3, and four of its five
# programs reach 92.5-100% of their teacher's accuracy.
DEFAULT_EPOCHS = 3.0
# The data-sized default batch: measured on a 48-example typed classifier with SmolLM2, batch 8 (18 optimizer
# steps in 3 epochs) left the student underfit (val loss 0.92, 6 of 40 right); batch 2 reached val loss 0.04.
MAX_DEFAULT_BATCH = 8
MIN_STEPS_PER_EPOCH = 16


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
    """Module names that get LoRA updates; default q,v for seq2seq and every linear layer for causal models (a
    compile of the bundled QA programs: q,v for both)."""
    learning_rate: float | None = None
    """Peak AdamW learning rate; default 1e-4 for seq2seq, 1e-3 for causal (measured best for SmolLM2)."""
    epochs: float | None = None
    """Passes over the training pairs (ignored when max_steps is set); default 3 (a compile of the bundled QA
    programs: 2)."""
    batch_size: int | None = None
    """Pairs per device per step; default: sized from the data (at most 8, and small enough that an epoch makes at
    least 16 optimizer steps, so a 48-example program is not underfit; a compile of the bundled QA programs: 4).
    Halved when a batch runs out of memory."""
    gradient_accumulation_steps: int = 1
    """Batches whose gradients add up to one optimizer step (a larger effective batch in the same memory)."""
    max_input_tokens: int = 512
    """Prompt length cap in tokens; a longer prompt is cut inside its longest field, passages first."""
    max_target_tokens: int | None = None
    """Completion length cap in tokens, in training and as the generation cap when served; default: sized from
    the training completions (the longest, with room for a quarter more), so none is cut."""
    precision: str = "auto"
    """"auto" (bf16 on a GPU or CPU that has it, else fp16 on a GPU for causal models, else fp32), or fp32/fp16/bf16."""
    val_fraction: float = 0.1
    """Share of the pairs held out to pick the best weights (at least one pair when there are two or more)."""
    seed: int = 0
    """Seed for the LoRA initialisation, the split and the data order."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (overrides epochs)."""
    time_budget_s: float | None = None
    """Stop training after this many seconds, the learning rate decayed to zero by then (best weights kept)."""
    lora_layers: int | None = None
    """Put LoRA only on the top N transformer layers (default: all); the backward pass stops below them."""
    full_finetune: bool = False
    """Train every weight instead of a LoRA adapter: the right choice for a randomly initialised tiny model."""
    warmup: float = 0.1
    """Learning-rate warm-up, as a share of the steps (< 1) or a number of steps."""
    progress: bool = False
    """Show the Trainer's progress bar and loss logs."""

    def resolved_targets(self, family: Family) -> list[str]:
        """The LoRA target modules for `family`."""
        return list(self.target_modules or DEFAULT_TARGETS[family])

    def resolved_epochs(self) -> float:
        """The passes over the training pairs: the configured number, else `DEFAULT_EPOCHS`."""
        return self.epochs if self.epochs is not None else DEFAULT_EPOCHS

    def resolved_learning_rate(self, family: Family) -> float:
        """The learning rate for `family`."""
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LEARNING_RATES[family]

    def resolved_batch_size(self, train_pairs: int, processes: int = 1) -> int:
        """The per-process batch size: the configured one, or the largest (up to 8) that gives an epoch of
        `train_pairs` at least `MIN_STEPS_PER_EPOCH` optimizer steps over all processes."""
        if self.batch_size is not None:
            return self.batch_size
        per_step = processes * self.gradient_accumulation_steps
        return max(1, min(MAX_DEFAULT_BATCH, train_pairs // (MIN_STEPS_PER_EPOCH * per_step)))


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
    epochs_completed: float
    """Passes over the training pairs completed (fewer than asked when the time budget stopped training)."""
    precision: str
    """The precision training ran in: fp32, or bf16/fp16 autocast over fp32 weights."""
    peak_memory_mb: float | None = field(default=None)
    """Peak GPU memory in MiB (None on CPU)."""
    processes: int = 1
    """Processes that trained data-parallel (the Trainer's world size; more than 1 under `accelerate launch`)."""

    @property
    def trainable_share(self) -> float:
        """Trainable weights as a share of all weights."""
        return self.trainable_params / max(self.total_params, 1)
