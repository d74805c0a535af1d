"""`StudentProvider`'s `train_kwargs` (ours, DSPy `LocalProvider`'s names mapped onto ours, and refusals) and the
training records it accepts."""

from __future__ import annotations

import dspy
import pytest

from core.errors import ConfigError, DataError
from finetune.adapter import StudentAdapter
from finetune.provider import chat_to_pair, config_from_kwargs


def test_local_provider_names_map_onto_our_settings():
    config, out, processes = config_from_kwargs({
        "num_train_epochs": 2, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 4,
        "learning_rate": 5e-4, "max_seq_length": 256, "use_peft": False, "bf16": False, "packing": True,
        "device": None, "output_dir": "/tmp/x",
    })  # fmt: skip
    assert (config.epochs, config.batch_size, config.gradient_accumulation_steps) == (2, 2, 4)
    assert (config.learning_rate, config.max_input_tokens, config.full_finetune, config.precision) == (
        5e-4, 256, True, "fp32")  # fmt: skip
    assert str(out) == "/tmp/x" and processes == 1


def test_local_provider_defaults_leave_ours_in_place():
    config, _, _ = config_from_kwargs({"use_peft": True, "bf16": True, "max_seq_length": None})
    assert not config.full_finetune and config.precision == "auto" and config.max_input_tokens == 512
    assert config.max_target_tokens is None  # sized from the training completions


def test_our_own_names_still_work_and_unknown_ones_are_refused():
    assert config_from_kwargs({"epochs": 5, "r": 8})[0].r == 8
    with pytest.raises(ConfigError, match=r"unknown train_kwargs \['lora_rank'\]"):
        config_from_kwargs({"lora_rank": 8})
    with pytest.raises(ConfigError, match="device"):
        config_from_kwargs({"device": "cuda:3"})


def test_a_record_needs_user_and_assistant_turns():
    record = {"messages": [{"role": "user", "content": "p"}, {"role": "assistant", "content": "c"}]}
    assert chat_to_pair(record) == ("p", "c")
    with pytest.raises(DataError):
        chat_to_pair({"messages": [{"role": "user", "content": "p"}]})


def test_a_record_another_adapter_wrote_is_refused_with_the_fix_named():
    signature = dspy.Signature("context, question -> answer")
    inputs, outputs = {"context": "the code is kiwi.", "question": "what is the code?"}, {"answer": "kiwi"}
    ours = StudentAdapter().format_finetune_data(signature, [], inputs, outputs)
    assert chat_to_pair(ours)[1].strip().endswith("kiwi")
    for adapter in (dspy.ChatAdapter(), dspy.XMLAdapter()):
        with pytest.raises(ConfigError, match=r"trains only on records .* adapter=StudentAdapter\(\)"):
            chat_to_pair(adapter.format_finetune_data(signature, [], inputs, outputs))
