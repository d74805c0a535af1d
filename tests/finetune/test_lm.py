"""The local LM engine: concurrent calls batched with the answers of sequential ones, on both backends;
CTranslate2 conversion, reuse, reload in a fresh process, and the one-line fallback to transformers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import dspy
import pytest

from engine.ct2 import DISABLE_ENV, INPUTS_FILE
from engine.teacher import STOP_STRINGS, LocalChatLM
from finetune.config import LoRATrainConfig
from finetune.lm import CT2_DIR, StudentLM
from finetune.lora import train_student

REPO = Path(__file__).resolve().parents[2]
PROMPTS = [
    "hi",
    "what is the code? the code is amber.",
    "answer the question based on the context: question: who? context: Aldermoor | founded in 1742 by Ilse Varga.",
    "a somewhat longer prompt, so that the batch needs padding on the left",
    "short one",
    "the quick brown fox jumps over the lazy dog 0123456789",
]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Conversions of base models go to a per-session cache, not the user's."""
    monkeypatch.setenv("RAGDISTILL_CACHE", str(tmp_path_factory.getbasetemp() / "engine-cache"))


def concurrently(call, items: list) -> list:
    """`call(item)` for every item, each in its own thread started at once; results in item order."""
    results: dict[int, object] = {}
    barrier = threading.Barrier(len(items))

    def worker(index: int, item) -> None:
        barrier.wait()
        results[index] = call(item)

    threads = [threading.Thread(target=worker, args=pair) for pair in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[index] for index in range(len(items))]


@pytest.mark.parametrize("backend", ["transformers", "ct2"])
@pytest.mark.parametrize("model", ["tiny_causal_dir", "tiny_t5_dir"])
def test_concurrent_student_calls_answer_like_sequential_ones(model: str, backend: str, request):
    lm = StudentLM.from_base(str(request.getfixturevalue(model)), backend=backend, compute_type="float32")
    sequential = [lm(prompt)[0] for prompt in PROMPTS]
    batches_before = lm.student_engine._batcher.batches
    together = concurrently(lambda prompt: lm(prompt)[0], PROMPTS)
    assert together == sequential
    assert lm.student_engine._batcher.batches - batches_before < len(PROMPTS)  # calls were grouped
    assert lm.student_engine.used["backend"] == backend
    assert lm.student_engine.generate(PROMPTS) == sequential  # one direct batch, too
    assert lm.history[-1]["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize("backend", ["transformers", "ct2"])
def test_concurrent_teacher_calls_write_the_fields_of_sequential_ones(tiny_causal_dir: Path, backend: str):
    lm = LocalChatLM.from_dir(tiny_causal_dir, max_new_tokens=6, cache=False, backend=backend)
    program = dspy.ChainOfThought("context, question -> answer")
    program.set_lm(lm)  # worker threads do not see a dspy.context
    questions = [f"question {i}{'?' * i}" for i in range(5)]
    sequential = [program(context=["a | b"], question=q).toDict() for q in questions]
    together = concurrently(lambda q: program(context=["a | b"], question=q).toDict(), questions)
    assert together == sequential
    outputs = [entry["outputs"][0] for entry in lm.history]
    assert all(o.startswith("[[ ## reasoning ## ]]\n") and o.endswith("[[ ## completed ## ]]") for o in outputs)


def test_ct2_float32_gives_the_answers_of_transformers(tiny_causal_dir: Path):
    stock = StudentLM.from_base(str(tiny_causal_dir), backend="transformers").generate(PROMPTS)
    fast = StudentLM.from_base(str(tiny_causal_dir), backend="ct2", compute_type="float32")
    assert fast.generate(PROMPTS) == stock
    assert fast.student_engine.used == {"backend": "ct2", "compute_type": "float32"}


def test_stop_strings_and_alnum_start_agree_across_backends(tiny_causal_dir: Path):
    stock = StudentLM.from_base(str(tiny_causal_dir), backend="transformers").student_engine.loaded()
    fast = StudentLM.from_base(str(tiny_causal_dir), backend="ct2", compute_type="float32").student_engine.loaded()
    for options in ({"stop_strings": STOP_STRINGS}, {"stop_strings": STOP_STRINGS, "alnum_start": True}):
        texts = [generation.text for generation in stock.generate(PROMPTS, 8, **options)]
        assert [generation.text for generation in fast.generate(PROMPTS, 8, **options)] == texts
    assert all(text.strip()[:1].isalnum() for text in texts)  # the last round banned other first tokens


@pytest.fixture(scope="module")
def causal_adapter(tiny_causal_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter trained for two steps on the tiny causal model."""
    out = tmp_path_factory.mktemp("adapter") / "student"
    pairs = [(prompt, prompt.split()[-1]) for prompt in PROMPTS]
    train_student(pairs, str(tiny_causal_dir), out, LoRATrainConfig(max_steps=2, batch_size=2, val_fraction=0))
    return out


def test_adapter_is_converted_once_and_reused_until_it_changes(causal_adapter: Path, capsys):
    first = StudentLM.from_trained(causal_adapter, backend="ct2", compute_type="float32")
    answers = first.generate(PROMPTS)
    stamp = causal_adapter / CT2_DIR / INPUTS_FILE
    assert stamp.is_file() and "converting" in capsys.readouterr().err
    assert StudentLM.from_trained(causal_adapter, backend="ct2", compute_type="float32").generate(PROMPTS) == answers
    assert "converting" not in capsys.readouterr().err  # reused

    stock = StudentLM.from_trained(causal_adapter, backend="transformers").generate(PROMPTS)
    assert answers == stock  # the adapter was merged before conversion

    before = json.loads(stamp.read_text())["sha256"]
    config_file = causal_adapter / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "lora_alpha": config["lora_alpha"] * 2}))
    StudentLM.from_trained(causal_adapter, backend="ct2", compute_type="float32").generate(PROMPTS[:1])
    assert "converting" in capsys.readouterr().err
    assert json.loads(stamp.read_text())["sha256"] != before
    config_file.write_text(json.dumps(config))


def test_converted_student_reloads_in_a_fresh_process(causal_adapter: Path):
    answers = StudentLM.from_trained(causal_adapter, backend="ct2", compute_type="float32").generate(PROMPTS)
    script = (
        "import json, sys\n"
        "from finetune.lm import StudentLM\n"
        "lm = StudentLM.from_trained(sys.argv[1], backend='ct2', compute_type='float32')\n"
        "print(json.dumps({'answers': lm.generate(json.loads(sys.argv[2])), **lm.student_engine.used}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(causal_adapter), json.dumps(PROMPTS)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    reloaded = json.loads(completed.stdout.strip().splitlines()[-1])
    assert reloaded == {"answers": answers, "backend": "ct2", "compute_type": "float32"}
    assert "converting" not in completed.stderr


def test_disabled_ct2_falls_back_with_one_note(tiny_causal_dir: Path, monkeypatch, capsys):
    monkeypatch.setenv(DISABLE_ENV, "1")
    lm = StudentLM.from_base(str(tiny_causal_dir), backend="ct2")
    assert len(lm.generate(PROMPTS[:2])) == 2
    assert lm.student_engine.used["backend"] == "transformers"
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and DISABLE_ENV in notes[0] and "generating with transformers" in notes[0]


def test_unconvertible_model_falls_back_with_one_note(tiny_t5_dir: Path, tmp_path: Path, capsys):
    """GPT-Neo is a causal architecture CTranslate2 has no converter for."""
    from transformers import AutoTokenizer, GPTNeoConfig, GPTNeoForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5_dir)
    config = GPTNeoConfig(vocab_size=len(tokenizer), hidden_size=32, num_layers=1, num_heads=2,
                          attention_types=[[["global"], 1]], max_position_embeddings=512,
                          eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)  # fmt: skip
    GPTNeoForCausalLM(config).save_pretrained(tmp_path / "neo")
    tokenizer.save_pretrained(tmp_path / "neo")
    lm = StudentLM.from_base(str(tmp_path / "neo"), backend="ct2")
    assert len(lm.generate(PROMPTS[:2])) == 2
    assert lm.student_engine.used["backend"] == "transformers"
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "CTranslate2 cannot serve this model" in notes[0]


def test_unknown_backend_is_refused(tiny_causal_dir: Path):
    from core.errors import RagdistillError

    with pytest.raises(RagdistillError, match="unknown backend 'vllm'"):
        StudentLM.from_base(str(tiny_causal_dir), backend="vllm")
