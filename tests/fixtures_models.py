"""Session-scoped pytest fixtures: models.

`tiny_t5_dir` is the real tiny T5 of `engine.models.build_tiny_t5`. `tiny_causal_dir` is a 1-layer random
Llama sharing that tokenizer, with a minimal chat template: a stand-in for SmolLM2 whenever a test
needs a local causal chat model's mechanics (prompting, decoding, saving) rather than its answers.
The copy task these models learn is defined once here: `copy_task()` (DSPy examples) and `copy_pairs`
((prompt, completion) pairs).
"""

from __future__ import annotations

from pathlib import Path

import dspy
import pytest

from engine.models import build_tiny_t5
from finetune.config import LoRATrainConfig

TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<{{ message['role'] }}>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>\n{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly built tiny T5 (random weights, locally trained tokenizer)."""
    return build_tiny_t5(tmp_path_factory.mktemp("models") / "tiny-t5")


@pytest.fixture(scope="session")
def tiny_causal_dir(tiny_t5_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer random Llama chat model with the tiny T5's tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5_dir)
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    out_dir = tmp_path_factory.mktemp("models") / "tiny-causal"
    LlamaForCausalLM(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


COPY_WORDS = ["amber", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbor"]
"""The answers of the copy task: each is copied from its context, which a 2-layer random T5 learns in seconds."""


def copy_task() -> list[dspy.Example]:
    """The copy task as DSPy examples (fresh ones at each call: a program may annotate them)."""
    return [
        dspy.Example(question="what is the code?", context=[f"Codes | the code is {w}."], answer=w).with_inputs(
            "question", "context"
        )
        for w in COPY_WORDS
    ]


@pytest.fixture(scope="session")
def copy_pairs() -> tuple[tuple[str, str], ...]:
    """The copy task as (prompt, completion) pairs, to train a student on directly."""
    return tuple((f"question: what is the code? context: the code is {w}.", w) for w in COPY_WORDS)


COPY_TRAINING = LoRATrainConfig(full_finetune=True, epochs=80, batch_size=2, learning_rate=3e-3, val_fraction=0.0)
"""Training that makes the tiny T5 learn the copy task for sure: every weight, many epochs, no held-out pair."""


def strict_match(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    """The copy task's metric: the exact answer string."""
    return example.answer == prediction.answer
