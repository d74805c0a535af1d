"""Export a trained student for standard serving engines: `python -m finetune.export RUN --out DIR`.

RUN is a run directory written by `python -m programs.compile` (its trained student, `student/`) or a trained
student directory itself (`python -m finetune.train --out ...`). DIR is written atomically and holds:

- the student as a plain Hugging Face model directory: `config.json`, `model.safetensors`, the tokenizer files
  (with the chat template of a causal model): a peft adapter is merged into its base (`finetune.lm.merge`), a
  fully fine-tuned model is copied. This is the format vLLM, SGLang and TGI load (`vllm serve DIR`);
- `ragdistill_prompt.json` (`PROMPT_FILE`): exactly how a DSPy request becomes the student's input, so a server
  answers as the in-process `StudentLM` does: the `StudentAdapter` sends one user message holding the student
  prompt (templates written by `finetune.prompt.prompt_templates`); a causal model reads it inside its chat
  template with the generation prompt (what an OpenAI-compatible chat endpoint does with that one message), a
  seq2seq model reads it as is; both cut it to `max_input_tokens` first and decode greedily for at most
  `max_new_tokens`.

Simplified: weights are saved in float32 as merged on the CPU (no quantization, no sharding options); a
prompt longer than `max_input_tokens` is cut by the tokenizer (`finetune.prompt.render_for_model`), which a server
does only if asked (vLLM's `truncate_prompt_tokens`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from core.atomic import atomic_dir, write_json_atomic
from core.errors import ModelNotFoundError, RunFormatError, exit_cleanly_on_error
from finetune.lm import CT2_DIR, DEFAULT_MAX_INPUT_TOKENS, DEFAULT_MAX_NEW_TOKENS, merge
from finetune.prompt import prompt_templates
from finetune.record import STUDENT_DIR, STUDENT_FILE, read_student_record, trained_kind

PROMPT_FILE = "ragdistill_prompt.json"
PROMPT_FORMAT = "ragdistill-student-prompt/2"


def trained_dir_of(run: Path) -> Path:
    """The trained student directory of a run directory, or `run` itself when it is one."""
    if not run.is_dir():
        raise RunFormatError(f"{run} does not exist: give a run directory or a trained student directory")
    trained = run if (run / STUDENT_FILE).is_file() else run / STUDENT_DIR
    if not (trained / STUDENT_FILE).is_file():
        raise ModelNotFoundError(
            f"{run} holds no trained student ({STUDENT_DIR}/{STUDENT_FILE}): compile it with distillation first"
        )
    trained_kind(trained)  # refuses a directory that is neither an adapter nor a model
    return trained


def prompt_spec(record: dict[str, Any], has_chat_template: bool) -> dict[str, Any]:
    """The contents of `ragdistill_prompt.json` for a student with this record (see the module docstring)."""
    train_config = record.get("train_config", {})
    chat = record["family"] == "causal" and has_chat_template
    render = (
        "tokenizer.apply_chat_template([{'role': 'user', 'content': prompt}], tokenize=False, "
        "add_generation_prompt=True), tokenized without adding special tokens"
        if chat
        else "the prompt itself, tokenized with special tokens (T5 appends </s>) and cut to max_input_tokens"
    )
    return {
        "format": PROMPT_FORMAT,
        "family": record["family"],
        "base_model": record.get("base_model"),
        "request": "one user message holding the student prompt: no system message, no demos (StudentAdapter)",
        "chat_template": chat,
        "model_input": render,
        "max_input_tokens": train_config.get("max_input_tokens") or DEFAULT_MAX_INPUT_TOKENS,
        "max_input_tokens_rule": "a longer prompt is cut inside its longest field (passages first) to this many "
        "tokens (no special tokens) before rendering",
        "max_new_tokens": train_config.get("max_target_tokens") or DEFAULT_MAX_NEW_TOKENS,
        "decoding": "greedy (no sampling, one beam), stopping at the tokenizer's eos token; answer stripped",
        **prompt_templates(),
    }


def export_student(run: str | Path, out: str | Path) -> Path:
    """Write the student of `run` as a plain Hugging Face model directory plus `PROMPT_FILE` into `out`."""
    from transformers import AutoTokenizer

    trained = trained_dir_of(Path(run))
    record = read_student_record(trained)
    if "family" not in record:
        raise RunFormatError(f"{trained / STUDENT_FILE} names no model family: retrain the student")
    with atomic_dir(out) as tmp:
        if trained_kind(trained) == "adapter":
            merge(trained, tmp)  # replaces the empty temporary directory with the merged model
        else:
            shutil.copytree(trained, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(CT2_DIR, STUDENT_FILE))
        tokenizer = AutoTokenizer.from_pretrained(tmp)
        write_json_atomic(tmp / PROMPT_FILE, prompt_spec(record, bool(tokenizer.chat_template)))
    return Path(out)


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Export directory.")
@exit_cleanly_on_error
def main(run: Path, out: Path) -> None:
    """Write the trained student of RUN (a run or trained directory) as a Hugging Face model + its prompt format."""
    click.echo(str(export_student(run, out)))


if __name__ == "__main__":
    main()
