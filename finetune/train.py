"""CLI: train a student on your own (prompt, completion) pairs.

    python -m finetune.train --data pairs.jsonl --model google-t5/t5-small --out adapters/x [--epochs 5 ...]

Data-parallel over N processes (DDP; gloo on CPU, NCCL on GPUs; `--batch-size` is per process):

    accelerate launch --multi_gpu --num_processes N -m finetune.train --data pairs.jsonl --model ... --out ...

(`--multi_gpu` is accelerate's name for its multi-process launcher, torchrun, on CPUs too; without it and
without GPUs, `accelerate launch` starts one process.) Only the first process writes `--out` and prints.

`pairs.jsonl` holds one JSON object per line with string fields `prompt` and `completion`. Every
`LoRATrainConfig` field is an option, documented from the field's docstring, so `--help` lists every knob.
A malformed file prints one `error:` line and exits with status 2.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import click
from accelerate import PartialState

from core.cli import build_config, config_command
from data.loaders import BadRow, load_records
from engine.models import DEFAULT_STUDENT
from finetune.config import LoRATrainConfig
from finetune.lora import train_student


def _pair(row: dict) -> tuple[str, str]:
    if not isinstance(row.get("prompt"), str) or not isinstance(row.get("completion"), str):
        raise BadRow("needs string fields 'prompt' and 'completion'")
    return row["prompt"], row["completion"]


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(prompt, completion) pairs from a JSONL file; any malformed line is a `DataError` naming it."""
    return load_records(path, _pair)


@config_command(LoRATrainConfig)
@click.option(
    "--data", "data_path", type=click.Path(path_type=Path), required=True, help="JSONL with prompt/completion."
)
@click.option(
    "--model", default=DEFAULT_STUDENT, show_default=True, help="Base model: local dir, tiny-t5, smollm2, hub id."
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output dir.")
def main(data_path: Path, model: str, out_dir: Path, **settings) -> None:
    """Train a LoRA (or fully fine-tuned) student on prompt/completion pairs and save it to --out."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = train_student(read_pairs(data_path), model, out_dir, build_config(LoRATrainConfig, settings))
    figures = {k: v for k, v in dataclasses.asdict(result).items() if k != "out_dir"}
    if PartialState().is_main_process:  # under `accelerate launch`, one line for the whole run
        click.echo(json.dumps({"out_dir": str(result.out_dir), **figures, "trainable_share": result.trainable_share}))


if __name__ == "__main__":
    main()
