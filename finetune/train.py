"""CLI: train a student on your own (prompt, completion) pairs.

    python -m finetune.train --data pairs.jsonl --model google-t5/t5-small --out adapters/x [--epochs 5 ...]

`pairs.jsonl` holds one JSON object per line with string fields `prompt` and `completion`. Every
`LoRATrainConfig` field is an option, documented from the field's docstring, so `--help` lists every knob.
A malformed file prints one `error:` line and exits with status 2.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import logging
import typing
from pathlib import Path

import click

from data.errors import RagdistillError, exit_cleanly_on_error
from data.models import DEFAULT_STUDENT
from finetune.lora import LoRATrainConfig, train_student


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source (as litgpt's CLIs do)."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    docs = {}
    for node, following in zip(body, body[1:], strict=False):
        is_doc = isinstance(following, ast.Expr) and isinstance(getattr(following, "value", None), ast.Constant)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and is_doc:
            docs[node.target.id] = " ".join(str(following.value.value).split())
    return docs


def config_options(func):
    """Add one click option per `LoRATrainConfig` field (tuples as comma-separated strings)."""
    docs = field_docs(LoRATrainConfig)
    hints = typing.get_type_hints(LoRATrainConfig)
    for spec in reversed(dataclasses.fields(LoRATrainConfig)):
        kind = hints[spec.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        base = args[0] if args and typing.get_origin(kind) is not tuple else kind
        flag = "--" + spec.name.replace("_", "-")
        if base is bool:
            option = click.option(
                f"{flag}/--no-{flag[2:]}", default=spec.default, show_default=True, help=docs[spec.name]
            )
        elif typing.get_origin(base) is tuple:
            option = click.option(flag, default=None, help=docs[spec.name] + " (comma-separated)")
        else:
            option = click.option(flag, type=base, default=spec.default, show_default=True, help=docs[spec.name])
        func = option(func)
    return func


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(prompt, completion) pairs from a JSONL file; any malformed line is a `RagdistillError` naming it."""
    if not path.is_file():
        raise RagdistillError(f"{path} does not exist")
    pairs = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise RagdistillError(f"{path}:{number} is not JSON ({err.msg})") from None
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("prompt"), str)
                or not isinstance(row.get("completion"), str)
            ):
                raise RagdistillError(f"{path}:{number} needs string fields 'prompt' and 'completion'")
            pairs.append((row["prompt"], row["completion"]))
    if not pairs:
        raise RagdistillError(f"{path} holds no pairs")
    return pairs


@click.command()
@click.option(
    "--data", "data_path", type=click.Path(path_type=Path), required=True, help="JSONL with prompt/completion."
)
@click.option(
    "--model", default=DEFAULT_STUDENT, show_default=True, help="Base model: local dir, tiny-t5, smollm2, hub id."
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output dir.")
@config_options
@exit_cleanly_on_error
def main(data_path: Path, model: str, out_dir: Path, **settings) -> None:
    """Train a LoRA (or fully fine-tuned) student on prompt/completion pairs and save it to --out."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if settings["target_modules"] is not None:
        settings["target_modules"] = tuple(m.strip() for m in settings["target_modules"].split(",") if m.strip())
    result = train_student(read_pairs(data_path), model, out_dir, LoRATrainConfig(**settings))
    figures = {k: v for k, v in dataclasses.asdict(result).items() if k != "out_dir"}
    click.echo(json.dumps({"out_dir": str(result.out_dir), **figures, "trainable_share": result.trainable_share}))


if __name__ == "__main__":
    main()
