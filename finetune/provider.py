"""A finetunable `dspy.Provider`: `lm.finetune(...)` inside `dspy.BootstrapFinetune` trains a local student.

DSPy hands the provider chat-format data (`{"messages": [..., {"role": "user"}, {"role": "assistant"}]}`,
built by `finetune.adapter.StudentAdapter`); each record becomes one (prompt, completion) pair: the user
turns joined as the prompt, the assistant turn as the completion. `finetune` trains with
`finetune.lora.train_student` and returns the model id `student/<output dir>`, which `StudentLM.copy`
turns into an LM serving that directory.

`train_kwargs` (a dict, given to `BootstrapFinetune` or set on the LM) holds `LoRATrainConfig` fields plus
`output_dir` (where to write; default a fresh directory under DSPy's finetune directory) and `processes`
(default 1: train in this process; N > 1: `finetune.launch` trains with N data-parallel processes under
`accelerate launch`, `batch_size` per process). Unknown keys are refused rather than ignored.

Deliberate simplifications: training runs in the caller's process (DSPy's job thread) or, with `processes`,
in processes it waits for; no job status or
cancellation beyond what `dspy.clients.provider.TrainingJob` offers; `launch` does nothing and `kill`
frees the loaded weights.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import dspy
from dspy.clients.provider import TrainingJob
from dspy.clients.utils_finetune import TrainDataFormat, get_finetune_directory

from core.errors import RagdistillError
from finetune.config import LoRATrainConfig
from finetune.launch import train_in_processes
from finetune.lora import train_student

MODEL_PREFIX = "student/"
"""Model ids of `StudentLM`s: `student/<trained dir or base model spec>`."""


def chat_to_pair(record: dict[str, Any]) -> tuple[str, str]:
    """(prompt, completion) from one chat-format record: user turns joined, the last assistant turn."""
    messages = record.get("messages") or []
    prompt = "\n\n".join(m["content"] for m in messages if m.get("role") in ("system", "user"))
    answers = [m["content"] for m in messages if m.get("role") == "assistant"]
    if not prompt or not answers:
        raise RagdistillError(
            f"a fine-tuning record needs user and assistant messages, got roles {[m.get('role') for m in messages]}"
        )
    return prompt, answers[-1]


def config_from_kwargs(train_kwargs: dict[str, Any]) -> tuple[LoRATrainConfig, Path | None, int]:
    """A `LoRATrainConfig`, the output dir and the process count from DSPy `train_kwargs`; unknown keys are a
    `RagdistillError`."""
    kwargs = dict(train_kwargs)
    output_dir = kwargs.pop("output_dir", None)
    processes = kwargs.pop("processes", 1)
    known = {f.name for f in dataclasses.fields(LoRATrainConfig)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise RagdistillError(
            f"unknown train_kwargs {unknown}; known: output_dir, processes, {', '.join(sorted(known))}"
        )
    if not isinstance(processes, int) or processes < 1:
        raise RagdistillError(f"train_kwargs processes must be a whole number of at least 1, not {processes!r}")
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
            raise RagdistillError(f"the student provider trains on chat-format data, not {train_data_format}")
        config, output_dir, processes = config_from_kwargs(train_kwargs or {})
        if output_dir is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            output_dir = Path(get_finetune_directory()) / f"ragdistill-{stamp}-{uuid.uuid4().hex[:6]}"
        pairs = [chat_to_pair(record) for record in train_data]
        if processes > 1:
            train_in_processes(pairs, model, output_dir, config, processes)
        else:
            train_student(pairs, model, output_dir, config)
        return MODEL_PREFIX + str(output_dir)
