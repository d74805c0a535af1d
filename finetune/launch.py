"""Training on several processes from inside a program: `finetune.train` under `accelerate launch`, as a subprocess.

`train_in_processes(pairs, base_model, out_dir, config, processes)` is `finetune.lora.train_student` spread
over `processes` data-parallel processes (DDP, see `finetune.trainer`): it writes the pairs in
`finetune.train`'s data format (JSONL with `prompt` and `completion`) into a scratch directory, turns
`config` into that command's options (`core.cli.config_arguments`) and runs

    accelerate launch --multi_gpu --num_processes N -m finetune.train --data pairs.jsonl --model M --out DIR ...

(`--multi_gpu` is accelerate's multi-process launcher, needed on a CPU too). The first process writes
`out_dir` atomically, as one process does; `batch_size` is per process. Everything the processes print goes
to this process's library log (`core.log.library_log`); a failed run is one `ServiceError` holding its
`error:` line (or its last line) and the log's path.

Simplified: one machine only (no multi-node options); the processes import ragdistill from the directory this
package was loaded from; their start-up (N imports of torch, N model loads) is not part of `time_budget_s`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.atomic import scratch_dir
from core.cli import config_arguments
from core.errors import ConfigError, ServiceError
from core.log import library_log, say
from finetune.config import LoRATrainConfig

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The directory holding ragdistill's packages, put on the processes' import path."""


def launch_command(data: Path, base_model: str, out_dir: Path, config: LoRATrainConfig, processes: int) -> list[str]:
    """The `accelerate launch` command line training `config` on `data` with `processes` processes."""
    if processes < 2:
        raise ConfigError(f"training on several processes needs at least 2, not {processes}")
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes)]
    command = ["-m", "finetune.train", "--data", str(data), "--model", base_model, "--out", str(out_dir)]
    return [*launcher, *command, *config_arguments(config)]


def failure_line(output: str) -> str:
    """What went wrong, in one line: `finetune.train`'s first `error:` line, else the last line printed."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return (errors or lines or ["no output"])[0 if errors else -1]


def train_in_processes(
    pairs: list[tuple[str, str]], base_model: str, out_dir: str | os.PathLike, config: LoRATrainConfig, processes: int
) -> None:
    """Train `base_model` on `pairs` into `out_dir` with `processes` data-parallel processes (module docstring)."""
    log = library_log()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
    with scratch_dir("ragdistill-launch-") as scratch:
        data = scratch / "pairs.jsonl"
        data.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in pairs), encoding="utf-8")
        command = launch_command(data, base_model, Path(out_dir).resolve(), config, processes)
        say(f"training on {processes} processes (accelerate launch, DDP); their output goes to the log", detail=True)
        start = log.stat().st_size
        with open(log, "a", encoding="utf-8") as output:
            done = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        with open(log, "rb") as output:
            output.seek(start)
            line = failure_line(output.read().decode("utf-8", errors="replace"))
        raise ServiceError(
            f"training on {processes} processes failed (exit status {done.returncode}): {line} (whole output: {log})"
        )
