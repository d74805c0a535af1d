"""A finetunable `dspy.Provider`: `lm.finetune(...)` inside `dspy.BootstrapFinetune` trains a local student.

DSPy hands the provider chat-format data (`{"messages": [..., {"role": "user"}, {"role": "assistant"}]}`,
built by `finetune.adapter.StudentAdapter`); each record becomes one (prompt, completion) pair. A record the
adapter wrote also carries its structured prompt (`student_prompt`), which is rendered here within the
training budget with the base model's tokenizer (`finetune.prompt.StudentPrompt.render`), exactly as the
adapter renders it when the student is served; a record without one (a single user turn, e.g. written by hand)
is taken as it is. A record another DSPy adapter wrote (a system turn first) is refused before training starts,
with one error naming the fix: the student is only ever served `StudentAdapter` prompts, so it would learn a
format it never sees. `finetune` trains with `finetune.lora.train_student` and returns the
model id `student/<output dir>`, which `StudentLM.copy` turns into an LM serving that directory.

`train_kwargs` (a dict, given to `BootstrapFinetune` or set on the LM) holds `LoRATrainConfig` fields plus
`output_dir` (where to write; default a fresh directory under DSPy's finetune directory) and `processes`
(default 1: train in this process; N > 1: `finetune.launch` trains with N data-parallel processes under
`accelerate launch`, `batch_size` per process). The option names of DSPy's own `LocalProvider` are
accepted too (`LOCAL_PROVIDER_NAMES`): `num_train_epochs`, `per_device_train_batch_size`,
`gradient_accumulation_steps`, `learning_rate`, `max_seq_length` (the prompt cap: the completion cap is
sized from the data), `use_peft` (False trains every weight), `bf16` (True: bf16 where the hardware computes
it natively, False: fp32), `packing` (our batches are grouped by length instead: only False, or the
LocalProvider default True, which is taken to mean "batch efficiently") and `device` (None: the GPU when
there is one). Unknown keys are refused rather than ignored.

Deliberate simplifications: training runs in the caller's process (DSPy's job thread) or, with `processes`,
in processes it waits for; no job status or cancellation beyond what `dspy.clients.provider.TrainingJob`
offers; `launch` does nothing and `kill` frees the loaded weights.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import dspy
from dspy.clients.provider import TrainingJob
from dspy.clients.utils_finetune import TrainDataFormat, get_finetune_directory

from core.errors import ConfigError, DataError
from engine.models import load_tokenizer, resolve_model
from finetune.config import LoRATrainConfig
from finetune.launch import train_in_processes
from finetune.lora import train_student
from finetune.prompt import FOREIGN_RECORDS, PromptBudget, StudentPrompt, check_student_messages, messages_prompt
from finetune.record import update_student_record

MODEL_PREFIX = "student/"
"""Model ids of `StudentLM`s: `student/<trained dir or base model spec>`."""
LOCAL_PROVIDER_NAMES: dict[str, str] = {
    "num_train_epochs": "epochs",
    "per_device_train_batch_size": "batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "learning_rate": "learning_rate",
    "max_seq_length": "max_input_tokens",
}
"""DSPy `LocalProvider` option -> `LoRATrainConfig` field, for the options that map one to one."""


def chat_to_pair(record: dict[str, Any]) -> tuple[str, str]:
    """(prompt, completion) from one chat-format record: its user turn and the last assistant turn.

    Raises:
        DataError: the record lacks a user or an assistant turn.
        ConfigError: another adapter wrote it (a system turn, or several user turns): a student trained on
            prompts it is never served would answer nonsense, so training stops before it starts.
    """
    messages = record.get("messages") or []
    prompt = messages_prompt(messages)
    answers = [m["content"] for m in messages if m.get("role") == "assistant"]
    if not prompt or not answers:
        raise DataError(
            f"a fine-tuning record needs user and assistant messages, got roles {[m.get('role') for m in messages]}"
        )
    check_student_messages([m for m in messages if m.get("role") != "assistant"], FOREIGN_RECORDS)
    return prompt, answers[-1]


def training_pairs(
    records: list[dict[str, Any]], base_model: str, max_input_tokens: int
) -> tuple[list[tuple[str, str]], bool]:
    """(prompt, completion) pairs of chat records, structured prompts rendered within `max_input_tokens`, and
    whether they name their predictors (not when any record's predictor was unknown: then none does).

    Args:
        records: chat-format records, as `StudentAdapter.format_finetune_data` writes them.
        base_model: the student's base model spec (its tokenizer counts the budget).
        max_input_tokens: the prompt cap, in tokens.

    Returns:
        One pair per record, in order, and the naming flag.

    Raises:
        DataError: a record without user and assistant messages.
    """
    prompts = [StudentPrompt.from_dict(r["student_prompt"]) if "student_prompt" in r else None for r in records]
    named = all(prompt.named for prompt in prompts if prompt is not None)
    budget = None
    pairs = []
    for record, prompt in zip(records, prompts, strict=True):
        text, completion = chat_to_pair(record)
        if prompt is not None:
            budget = budget or PromptBudget(load_tokenizer(resolve_model(base_model)), max_input_tokens)
            text = (prompt if named else replace(prompt, task=None)).render(budget)
        pairs.append((text, completion))
    return pairs, named


def _local_provider_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` with DSPy `LocalProvider` option names mapped onto `LoRATrainConfig` fields (module docstring)."""
    mapped = {LOCAL_PROVIDER_NAMES.get(key, key): value for key, value in kwargs.items()}
    if "max_input_tokens" in mapped and mapped["max_input_tokens"] is None:
        del mapped["max_input_tokens"]  # LocalProvider's default: no cap given
    if "use_peft" in mapped:
        mapped["full_finetune"] = not mapped.pop("use_peft")
    if "bf16" in mapped:
        mapped["precision"] = "auto" if mapped.pop("bf16") else "fp32"
    if mapped.pop("packing", False) not in (False, True):
        raise ConfigError("train_kwargs packing must be True or False")
    device = mapped.pop("device", None)
    if device not in (None, "auto"):
        raise ConfigError(f"train_kwargs device={device!r} is not supported: training uses the GPU when there is one")
    return mapped


def config_from_kwargs(train_kwargs: dict[str, Any]) -> tuple[LoRATrainConfig, Path | None, int]:
    """A `LoRATrainConfig`, the output dir and the process count from DSPy `train_kwargs`.

    Raises:
        ConfigError: an unknown key or an unusable value.
    """
    kwargs = _local_provider_options(dict(train_kwargs))
    output_dir = kwargs.pop("output_dir", None)
    processes = kwargs.pop("processes", 1)
    known = {f.name for f in dataclasses.fields(LoRATrainConfig)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        accepted = ["output_dir", "processes", *sorted(known), *LOCAL_PROVIDER_NAMES, "use_peft", "bf16", "packing"]
        raise ConfigError(f"unknown train_kwargs {unknown}; known: {', '.join(accepted)}")
    if not isinstance(processes, int) or processes < 1:
        raise ConfigError(f"train_kwargs processes must be a whole number of at least 1, not {processes!r}")
    if isinstance(kwargs.get("target_modules"), list):
        kwargs["target_modules"] = tuple(kwargs["target_modules"])
    return LoRATrainConfig(**kwargs), Path(output_dir) if output_dir is not None else None, processes


def train_kwargs(
    config: LoRATrainConfig, *, output_dir: str | Path | None = None, processes: int = 1
) -> dict[str, Any]:
    """DSPy `train_kwargs` carrying `config`, the output dir and the process count (what `config_from_kwargs` reads).

    Args:
        config: the training settings.
        output_dir: where the student is written (None: a fresh directory under DSPy's finetune directory).
        processes: data-parallel training processes (1: train in the caller's process).

    Returns:
        The dict `dspy.BootstrapFinetune` hands to `StudentProvider.finetune`.
    """
    where = str(output_dir) if output_dir is not None else None
    return {**dataclasses.asdict(config), "output_dir": where, "processes": processes}


class StudentTrainingJob(TrainingJob):
    """DSPy's training future (the run's figures land in the output dir's student.json)."""

    def status(self) -> str:
        """ "done" or "running"."""
        return "done" if self.done() else "running"


class StudentProvider(dspy.Provider):
    """Trains `StudentLM`s locally with LoRA (or fully); see the module docstring for `train_kwargs`."""

    def __init__(self):
        super().__init__()
        self.finetunable = True
        self.TrainingJob = StudentTrainingJob

    @staticmethod
    def kill(lm: dspy.LM, launch_kwargs: dict[str, Any] | None = None) -> None:
        """Free the student's loaded weights before training (BootstrapFinetune calls this)."""
        unload = getattr(lm.engine, "unload", None)
        if callable(unload):
            unload()

    @staticmethod
    def finetune(
        job: StudentTrainingJob,
        model: str,
        train_data: list[dict[str, Any]],
        train_data_format: TrainDataFormat | str | None,
        train_kwargs: dict[str, Any] | None = None,
    ) -> str:
        """Train base model `model` on `train_data`; return `student/<output dir>`."""
        if train_data_format not in (None, TrainDataFormat.CHAT, TrainDataFormat.CHAT.value):
            raise ConfigError(f"the student provider trains on chat-format data, not {train_data_format}")
        config, output_dir, processes = config_from_kwargs(train_kwargs or {})
        if output_dir is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            output_dir = Path(get_finetune_directory()) / f"ragdistill-{stamp}-{uuid.uuid4().hex[:6]}"
        pairs, named = training_pairs(train_data, model, config.max_input_tokens)
        if processes > 1:
            train_in_processes(pairs, model, output_dir, config, processes)
        else:
            train_student(pairs, model, output_dir, config)
        update_student_record(Path(output_dir), prompt={"predictor_names": named})
        return MODEL_PREFIX + str(output_dir)
