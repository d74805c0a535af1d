"""The settings of a compile run (`CompileConfig`, the CLI is generated from it) and their validation.

The student's training settings are not declared again here: `CompileConfig.training` is a
`finetune.config.LoRATrainConfig` (each of its fields an option of the command, see `core.cli`), handed on as it
is to the student stage; the compile shows the trainer's progress (`compile_training`), gives the bundled QA
programs their own epochs, batch size and LoRA targets (`student_training`) and sets the time budget from
`--train-minutes`.

Choices with a fixed list (`retriever`, `targets`, `fusion`) are `Literal` types, checked when the config
is built; `validate` checks the rest (optimizer names against the registry, k, the teacher spec, sizes)
before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from core.cli import NOT_OPTIONS, check_choices
from core.errors import ConfigError
from data.loaders import WORLD_CORPUS
from engine.models import DEFAULT_STUDENT
from finetune.config import LoRATrainConfig
from optimizers import TEACHER_OPTIMIZERS
from optimizers.distill import Targets
from programs.rag import Fusion
from programs.user import is_user_program
from retrieval.indexdir import RetrieverName


def compile_training() -> LoRATrainConfig:
    """The student's training settings in a compile: `LoRATrainConfig`'s defaults, with the trainer's progress shown;
    the bundled QA programs' own epochs, batch size and LoRA targets are `QA_EPOCHS`, `QA_BATCH_SIZE` and
    `QA_LORA_TARGETS`."""
    return LoRATrainConfig(progress=True)


QA_EPOCHS = 2.0
"""Epochs of the bundled QA programs' student when `--epochs` is not given (your own programs keep
`LoRATrainConfig`'s 3). With the default 100 training questions, on the world's 200 test questions (EM, one-hop /
two-hop): 2 epochs 64.5 (77.4 / 29.6) in a 14-minute compile; more epochs teach the second hop's query, but do not
fit the 15-minute default run on 2 CPU cores: 2.5 epochs 65.0 (74.0 / 40.7; the same traces, trained on 2 processes
in 540 s against 427 s), 3 epochs 65.5 (74.7 / 40.7) in a 16-minute compile. Three epochs with LoRA on the top 15
of SmolLM2's 30 layers only (`--lora-layers 15`: the backward pass stops halfway) train in the time of two on all
(436 s) and score as two do: 64.5 (76.7 / 31.5)."""

QA_BATCH_SIZE = 4
"""Pairs per batch of the bundled QA programs' student when `--batch-size` is not given (your own programs keep
`LoRATrainConfig`'s data-sized default: 2 for 48 examples). Under the time cap, 4 makes twice the updates of 8 and
pads less (measured: 55.0 EM against 45.0 on the world's first 40 test questions). A small program needs the
updates of a smaller batch: the 48-example typed classifier `examples/ticket_triage`, compiled from the CLI with
SmolLM2 (its teacher right on every item), scored 97.5 on its 40 test items with the data-sized 2, 70.0 with 4 and
50.0 with 8."""

QA_LORA_TARGETS: dict[str, tuple[str, ...]] = {"causal": ("q_proj", "v_proj")}
"""LoRA targets of the bundled QA programs' student, by family, when `--target-modules` is not given (other
families and your own programs keep `LoRATrainConfig`'s default). Their answers are spans copied from the
passages: on the default run, from the same saved traces, a causal student with LoRA on attention's q and v scored
50.0 EM on the 40 test questions against 47.5 with every linear layer (57.0 against 58.5 on 200: the same within
noise) and trained in 164 s instead of 236 s; typed outputs and choices, in your own programs, need every linear
layer."""


def student_training(config: CompileConfig, family: str) -> LoRATrainConfig:
    """The student's training settings for this run: `config.training`, with `QA_EPOCHS`, `QA_BATCH_SIZE` and (for
    its family) `QA_LORA_TARGETS` for a bundled QA program where they were not given."""
    training = config.training
    if is_user_program(config.program):
        return training
    if training.epochs is None:
        training = replace(training, epochs=QA_EPOCHS)
    if training.batch_size is None:
        training = replace(training, batch_size=QA_BATCH_SIZE)
    if training.target_modules is None and family in QA_LORA_TARGETS:
        training = replace(training, target_modules=QA_LORA_TARGETS[family])
    return training


@dataclass
class CompileConfig:
    """Every setting of a compile run; the CLI mirrors these fields and the manifest records them."""

    name: str = "world"
    """Run name: outputs go to `<out>/<name>/`."""
    out: str = "runs"
    """Directory holding run directories."""
    program: str = "auto"
    """Program: `rag` (retrieve, then answer), `multihop` (two retrieval hops), `auto` (multihop on two-hop data),
    or your own DSPy program as `module:attribute` (a function or dspy.Module class; it may take the retriever)."""
    metric: str | None = None
    """Your metric as `module:function(example, prediction, trace=None)`; default: short-answer exact match for the
    bundled programs, every labelled output exactly right for your own."""
    inputs: str | None = None
    """Your program's input fields, comma-separated, when its `forward` does not name them (`**kwargs`)."""
    optimizer: str = "bootstrap"
    """Teacher-side optimizers, comma-separated, applied in order: none, fewshot, bootstrap, random_search, mipro."""
    max_demos: int = 2
    """Most demonstrations per predictor the teacher-side optimizers keep, of each kind (bootstrapped, labeled):
    a multi-hop demo carries its passages, so each one lengthens every compiled-teacher prompt by ~400 tokens."""
    distill: bool = True
    """Distil the compiled teacher into the LoRA student (the BootstrapFinetune bridge)."""
    teacher: str = "smollm2"
    """Teacher LM: a LiteLLM model string (`openai/gpt-4o-mini`, `ollama_chat/llama3.1`), `smollm2` or a local dir."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server for the teacher (LiteLLM `api_base`)."""
    student: str = DEFAULT_STUDENT
    """Student base model: a HF hub id, a local dir, `tiny-t5` or `smollm2` (fallback when t5-small is absent)."""
    targets: Targets = "both"
    """Where student targets come from: `traces` (teacher outputs that pass the metric), `gold`, or `both`."""
    traces_from: str | None = None
    """Train the student on the teacher traces saved by this earlier run (its directory, or its name under --out;
    same program and training data): no teacher call, the teacher-side settings are ignored and the report leaves
    the teacher out."""
    retriever: RetrieverName = "colbert"
    """Retriever over the index: colbert, bm25, hybrid or bm25+rerank."""
    k: int = 5
    """Passages retrieved per search."""
    fusion: Fusion = "rrf"
    """Multi-hop program: each hop also searches with the question (later hops: plus what is known, and plus the
    written query) and fuses those rankings with its written query's by reciprocal rank (`rrf`), so a bad query
    cannot lose the question's passages; `off` searches with the written query alone. Saved with the run."""
    copy_check: bool = True
    """Retrieval programs: a written query or an answer that does not occur in what its step read is replaced by the
    most similar span of it, when one is close (a small student misspells the names it copies). Saved with the
    run; runs compiled before the setting open without it."""
    offered_choices: bool = True
    """Retrieval programs: a question that offers its answers ("yes or no?", "X or Y?") is answered with the offered
    answer the student finds the passages support most, scoring each (a small student says "yes" to everything).
    Saved with the run; runs compiled before the setting open without it."""
    corpus: str = str(WORLD_CORPUS)
    """Corpus (JSONL/TSV with pid, title, text) to index and search (your own program gets its retriever only if
    its builder takes one)."""
    index_dir: str = "indexes/world"
    """Index directory (built there if missing)."""
    train: str = "train"
    """Training questions: a bundled split name, a JSONL/CSV file or a Hugging Face dataset (your own program: a
    JSONL file of examples, the program's inputs plus its labels)."""
    dev: str = "dev"
    """Validation questions (used by random search and MIPROv2)."""
    test: str = "test"
    """Test questions for the report (never used for optimization)."""
    train_size: int = 100
    """Training questions distilled into the student (each yields teacher or gold targets)."""
    balance_hops: bool = True
    """Multi-hop program: draw the training questions half one-hop, half two-hop (each kind in file order, from the
    first 4x --train-size rows), so that the second query step learns to search again as often as to stop."""
    trace_size: int = 8
    """Training questions the teacher answers: its optimizers bootstrap demos from them and distillation keeps its
    traces that pass; the others get gold targets only (teacher calls are the slow part of a run). Your own
    program's steps have no gold runs, so its teacher answers every training example for distillation."""
    dev_size: int = 20
    """Validation questions used by the teacher-side optimizers."""
    test_size: int = 40
    """Test questions in the report."""
    refusal_recall: float = 0.7
    """When the validation questions hold unanswerable ones: the share of them the distilled QA student refuses;
    its refusal threshold is the highest that refuses that many (`programs.refusal`)."""
    baseline_test_size: int = 4
    """Test questions the systems compared with (both teacher systems, the untrained base student, the distilled
    student behind the lexical bm25) answer in the report, the first of --test-size: a local 135M teacher takes ~12 s
    per multi-hop question on 2 CPU cores (the default run's three baselines, 8 questions each, took 112 s of its
    report), and the student behind bm25 took 80 s of it on all 40; a hosted teacher can take them all (set it to
    --test-size)."""
    training: LoRATrainConfig = field(default_factory=compile_training, metadata={NOT_OPTIONS: ("time_budget_s",)})
    """How the student trains (`finetune.config.LoRATrainConfig`): each of its fields is an option of its own
    (--epochs, --batch-size, --learning-rate, --seed, --r...), with the compile's defaults (`compile_training`);
    its time budget is --train-minutes. Its seed also seeds the sampling of questions."""
    train_processes: int = 1
    """Processes training the student data-parallel (DDP under `accelerate launch`, one per GPU where there are
    GPUs); 1 trains in this process."""
    student_backend: Literal["auto", "ct2", "transformers"] = "auto"
    """How the student generates: `auto` (CTranslate2 when installed, else transformers), `ct2` or `transformers`."""
    student_compute_type: str = "auto"
    """CTranslate2 compute type of the student: `auto` (float32 on CPU, float16 on GPU), `int8_float32`, `int8`..."""
    train_minutes: float = 9.0
    """Wall-clock cap on student training, in minutes (0: no cap): on a slow CPU it ends training before --epochs
    (the manifest's `training.epochs_completed` says where; the learning rate decays to zero by the cap, and the
    best weights so far are kept). It sets the training's `time_budget_s`."""
    threads: int = 2
    """Parallel LM calls during bootstrapping and evaluation."""
    resume: bool = False
    """Skip stages an earlier run of the same name finished."""
    skip_bad_rows: bool = False
    """Skip malformed data rows (counted in a warning) instead of stopping."""

    def __post_init__(self) -> None:
        check_choices(self)
        self.training = replace(self.training, time_budget_s=self.train_minutes * 60 or None)

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / self.name

    def optimizers(self) -> list[str]:
        return [name.strip() for name in self.optimizer.split(",") if name.strip()]


def validate(config: CompileConfig) -> None:
    """Reject bad settings with one clear line before anything is written."""
    from engine.teacher import check_teacher_spec
    from retrieval.base import check_k

    if is_user_program(config.program) and ":" not in config.program:
        raise ConfigError(
            f"unknown program {config.program!r}: choose auto, rag, multihop, or name your own as module:attribute"
        )
    for name in config.optimizers():
        if name not in TEACHER_OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {name!r}: choose from {', '.join(TEACHER_OPTIMIZERS)}")
    check_k(config.k)
    check_teacher_spec(config.teacher, api_base=config.api_base)
    if config.train_processes < 1:
        raise ConfigError("--train-processes must be at least 1")
    if config.max_demos < 0:
        raise ConfigError("--max-demos must be 0 or more")
    if not 0 < config.refusal_recall <= 1:
        raise ConfigError("--refusal-recall must be above 0 and at most 1")
    for size in ("train_size", "trace_size", "dev_size", "test_size", "baseline_test_size"):
        if getattr(config, size) < 1:
            raise ConfigError(f"--{size.replace('_', '-')} must be at least 1")
