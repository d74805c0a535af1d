"""`python -m finetune.export`: the exported directory alone (transformers, no ragdistill) answers as the student LM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from finetune.export import PROMPT_FILE, export_student, main
from finetune.lm import StudentLM
from finetune.lora import LoRATrainConfig, train_student
from finetune.prompt import format_prompt
from programs.signatures import GenerateAnswer

QUESTIONS = [
    ("Who founded Shovki Foundry?", ["Shovki Foundry | founded by Naer Kaevshork in 1901."]),
    ("what is the code?", ["Codes | the code is amber.", "Other | nothing here"]),
]


def answer_from_export(out: Path, question: str, context: list[str]) -> str:
    """Greedy answer of the exported model, its prompt built from ragdistill_prompt.json with transformers alone."""
    spec = json.loads((out / PROMPT_FILE).read_text())
    return generate_from_export(
        out, spec["answer_step"]["prompt"].format(question=question, context="\n".join(context))
    )


def generate_from_export(out: Path, prompt: str, max_new_tokens: int | None = None) -> str:
    """What a serving engine answers to one student prompt, as ragdistill_prompt.json says (transformers alone)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    spec = json.loads((out / PROMPT_FILE).read_text())
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer(prompt, add_special_tokens=False, truncation=True, max_length=spec["max_input_tokens"]).input_ids
    prompt = tokenizer.decode(ids) if len(ids) == spec["max_input_tokens"] else prompt
    if spec["chat_template"]:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)  # fmt: skip
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    else:
        inputs = tokenizer(prompt, return_tensors="pt")
    auto = AutoModelForSeq2SeqLM if spec["family"] == "seq2seq" else AutoModelForCausalLM
    model = auto.from_pretrained(out).eval()
    with torch.inference_mode():
        generated = model.generate(
            **inputs, max_new_tokens=max_new_tokens or spec["max_new_tokens"], do_sample=False, num_beams=1,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
    if spec["family"] == "causal":
        generated = generated[:, inputs["input_ids"].shape[1] :]
    return tokenizer.decode(generated[0], skip_special_tokens=True).strip()


def student_answers(trained: Path) -> list[str]:
    """The in-process student's answers to QUESTIONS, one request at a time, prompted as the StudentAdapter does."""
    lm = StudentLM.from_trained(trained)
    return [lm.generate([format_prompt(GenerateAnswer, {"question": q, "context": c})])[0] for q, c in QUESTIONS]


def test_exported_tiny_run_answers_as_the_student_lm(tiny_run: Path, tmp_path: Path):
    result = CliRunner().invoke(main, [str(tiny_run), "--out", str(tmp_path / "export")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "export"
    for name in ("config.json", "model.safetensors", "tokenizer_config.json", PROMPT_FILE):
        assert (out / name).is_file(), name
    assert not (out / "adapter_config.json").exists()
    spec = json.loads((out / PROMPT_FILE).read_text())
    assert spec["family"] == "seq2seq" and spec["chat_template"] is False
    query_prompt = "task: generate_query[0]\ninstructions: Instructions of the signature.\ncontext: {context}\n"
    assert spec["other_steps"]["prompt"] == query_prompt + "question: {question}"
    assert [answer_from_export(out, q, c) for q, c in QUESTIONS] == student_answers(tiny_run / "student")


def test_exported_causal_student_answers_in_its_chat_template(tiny_causal_dir: Path, tmp_path: Path):
    pairs = [(format_prompt(GenerateAnswer, {"question": q, "context": c}), "amber") for q, c in QUESTIONS]
    train_student(pairs, str(tiny_causal_dir), tmp_path / "causal", LoRATrainConfig(max_steps=2, batch_size=2))
    out = export_student(tmp_path / "causal", tmp_path / "export")
    assert json.loads((out / PROMPT_FILE).read_text())["chat_template"] is True
    assert [answer_from_export(out, q, c) for q, c in QUESTIONS] == student_answers(tmp_path / "causal")


@pytest.mark.parametrize("make", [lambda tmp: tmp / "nowhere", lambda tmp: tmp])
def test_a_directory_without_a_student_is_one_error_line(tmp_path: Path, make):
    result = CliRunner().invoke(main, [str(make(tmp_path)), "--out", str(tmp_path / "export")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    assert not (tmp_path / "export").exists()
