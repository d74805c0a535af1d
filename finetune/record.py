"""The student record: `student.json` beside a trained student's weights, and its one reader and writer.

It names the base model spec (so the directory can move and still be served), the model family, whether
the weights are a whole model or a peft adapter, the training settings (among them the prompt and completion
caps serving uses), the run's figures, and `prompt`: how its training prompts were written
(`{"predictor_names": bool}`, see `finetune.adapter`). Written by `finetune.lora`, read by `finetune.lm` and
the benchmarks; nothing else knows the file name. Beside it, `training_pairs.jsonl` keeps the pairs the student
trained on (prompts as rendered within the budget), so a run can show, and a test can check, exactly what the
student learned from.

`trained_kind` is the one place that tells a peft adapter (`adapter_config.json`) from a whole model
(`config.json`) in a trained directory, whether or not it holds a record (a user's own adapter has none).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from core.atomic import write_json_atomic, write_text_atomic
from core.errors import ModelNotFoundError, RunFormatError

STUDENT_FILE = "student.json"
PAIRS_FILE = "training_pairs.jsonl"
"""Beside `student.json`: every (prompt, completion) pair the student trained on, as the model read it."""
STUDENT_DIR = "student"
"""Where a run directory (`programs.rundir`) keeps its trained student."""
ADAPTER_CONFIG = "adapter_config.json"
"""The file that makes a directory a peft adapter (a whole model directory has `config.json` instead)."""

TrainedKind = Literal["adapter", "model"]


def trained_kind(trained_dir: Path) -> TrainedKind:
    """Whether a trained directory holds a peft adapter (loaded onto its base model) or a whole model.

    Args:
        trained_dir: a directory written by `finetune.lora.train_student`, or a peft adapter / model directory.

    Returns:
        "adapter" when it holds `adapter_config.json`, else "model" when it holds `config.json`.

    Raises:
        ModelNotFoundError: the directory does not exist or holds neither.
    """
    trained_dir = Path(trained_dir)
    if not trained_dir.is_dir():
        raise ModelNotFoundError(f"student directory {trained_dir} does not exist")
    if (trained_dir / ADAPTER_CONFIG).is_file():
        return "adapter"
    if (trained_dir / "config.json").is_file():
        return "model"
    raise ModelNotFoundError(f"{trained_dir} holds neither a peft adapter ({ADAPTER_CONFIG}) nor a model")


def write_student_record(
    trained_dir: Path, *, base_model: str, family: str, full_finetune: bool, train_config: dict, result: dict
) -> None:
    """Write `student.json` into `trained_dir` atomically."""
    record = {"base_model": base_model, "family": family, "full_finetune": full_finetune}
    write_json_atomic(trained_dir / STUDENT_FILE, {**record, "train_config": train_config, "result": result})


def write_training_pairs(trained_dir: Path, pairs: list[tuple[str, str]]) -> None:
    """Write the training pairs into `trained_dir` (one JSON object per line: `prompt`, `completion`)."""
    lines = "".join(json.dumps({"prompt": p, "completion": c}, ensure_ascii=False) + "\n" for p, c in pairs)
    write_text_atomic(Path(trained_dir) / PAIRS_FILE, lines)


def read_training_pairs(trained_dir: Path) -> list[tuple[str, str]]:
    """The pairs `write_training_pairs` wrote ([] when the directory has none)."""
    path = Path(trained_dir) / PAIRS_FILE
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["prompt"], row["completion"]) for row in rows]


def update_student_record(trained_dir: Path, **entries: Any) -> None:
    """Add or replace top-level entries of `student.json` (atomically), e.g. how its prompts were written."""
    record = read_student_record(trained_dir)
    if not record:
        raise RunFormatError(f"{Path(trained_dir) / STUDENT_FILE} does not exist: nothing to update")
    write_json_atomic(Path(trained_dir) / STUDENT_FILE, {**record, **entries})


def read_student_record(trained_dir: Path) -> dict[str, Any]:
    """`student.json` of a trained directory ({} when absent); a corrupt file is a `RunFormatError`."""
    path = Path(trained_dir) / STUDENT_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunFormatError(f"{path} is not valid JSON ({err})") from None
