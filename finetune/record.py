"""The student record: `student.json` beside a trained student's weights, and its one reader and writer.

It names the base model spec (so the directory can move and still be served), the model family, whether
the weights are a whole model or a peft adapter, the training settings and the run's figures. Written by
`finetune.lora`, read by `finetune.lm` and the benchmarks; nothing else knows the file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.atomic import write_json_atomic
from core.errors import RagdistillError

STUDENT_FILE = "student.json"
STUDENT_DIR = "student"
"""Where a run directory (`programs.rundir`) keeps its trained student."""


def write_student_record(
    trained_dir: Path, *, base_model: str, family: str, full_finetune: bool, train_config: dict, result: dict
) -> None:
    """Write `student.json` into `trained_dir` atomically."""
    record = {"base_model": base_model, "family": family, "full_finetune": full_finetune}
    write_json_atomic(trained_dir / STUDENT_FILE, {**record, "train_config": train_config, "result": result})


def read_student_record(trained_dir: Path) -> dict[str, Any]:
    """`student.json` of a trained directory ({} when absent); a corrupt file is a `RagdistillError`."""
    path = Path(trained_dir) / STUDENT_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RagdistillError(f"{path} is not valid JSON ({err})") from None
