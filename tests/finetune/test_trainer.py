"""The training machinery: precision choice, length-grouped epochs, the answer-only loss, and loss going down."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from safetensors.torch import load_file

from core.errors import RagdistillError
from engine.devices import choose_precision
from engine.models import load_hf_model, resolve_model
from finetune.config import LoRATrainConfig
from finetune.data import AnswerCollator, answer_token_loss
from finetune.lora import encode_pairs, train_student
from finetune.trainer import make_trainer

QUICK = LoRATrainConfig(max_steps=6, batch_size=3, learning_rate=1e-2)


@pytest.mark.parametrize(
    ("asked", "machine", "chosen"),
    [
        ("auto", {"cuda": False, "cuda_bf16": False, "cpu_bf16": True}, "bf16"),
        ("auto", {"cuda": False, "cuda_bf16": False, "cpu_bf16": False}, "fp32"),
        ("auto", {"cuda": True, "cuda_bf16": True, "cpu_bf16": False}, "bf16"),
        ("auto", {"cuda": True, "cuda_bf16": False, "cpu_bf16": True}, "fp16"),
        ("fp32", {"cuda": False, "cuda_bf16": False, "cpu_bf16": True}, "fp32"),
        ("bf16", {"cuda": False, "cuda_bf16": False, "cpu_bf16": False}, "bf16"),
        ("fp16", {"cuda": True, "cuda_bf16": True, "cpu_bf16": False}, "fp16"),
    ],
)
def test_auto_precision_is_bf16_only_where_the_hardware_has_it_and_explicit_values_stand(asked, machine, chosen):
    assert choose_precision(asked, "causal", **machine) == chosen


def test_auto_precision_never_picks_fp16_for_t5_and_bad_values_are_refused():
    assert choose_precision("auto", "seq2seq", cuda=True, cuda_bf16=False, cpu_bf16=False) == "fp32"
    with pytest.raises(RagdistillError, match="precision must be"):
        choose_precision("int8", "causal", cuda=False, cuda_bf16=False, cpu_bf16=False)


@pytest.fixture(scope="module")
def uneven_pairs(copy_pairs) -> list[tuple[str, str]]:
    """The copy task's pairs with prompts of very different lengths, so that grouping by length has something to do."""
    return [(f"{'filler words here ' * i}{prompt}", completion) for i, (prompt, completion) in enumerate(copy_pairs)]


@pytest.fixture(scope="module")
def causal(tiny_causal_dir: Path, uneven_pairs):
    """The tiny causal model with LoRA (as `train_student` wraps it), its tokenizer and the encoded uneven pairs."""
    from finetune.lora import wrap_with_lora

    model, tokenizer = load_hf_model(resolve_model(str(tiny_causal_dir)), device="cpu")
    tokenizer.padding_side = "right"
    model = wrap_with_lora(model.train(), "causal", QUICK)
    encoded = encode_pairs(tokenizer, "causal", uneven_pairs, QUICK)
    return model, tokenizer, encoded


def test_length_grouped_epochs_see_every_pair_exactly_once(causal, tmp_path: Path):
    model, tokenizer, encoded = causal
    trainer = make_trainer(model, tokenizer, "causal", encoded, [], QUICK, tmp_path)
    expected = Counter(tuple(pair["input_ids"]) for pair in encoded)
    for _ in range(2):
        seen = Counter()
        for batch in trainer.get_train_dataloader():
            assert "logits_to_keep" in batch
            for ids, mask in zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist(), strict=True):
                seen[tuple(ids[: sum(mask)])] += 1
        assert seen == expected


def test_answer_only_logits_give_the_same_loss_as_the_full_model(causal):
    import torch
    from transformers import DataCollatorForSeq2Seq

    model, tokenizer, encoded = causal
    batch = AnswerCollator(DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100))(encoded[:4])
    keep, labels = batch.pop("logits_to_keep"), batch["labels"]
    with torch.no_grad():
        full = model(**batch).loss
        kept = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep)
    assert kept.logits.shape[0] == int((labels != -100).sum()) < labels.numel()
    assert torch.allclose(answer_token_loss(kept, labels), full, atol=1e-5)


def test_training_lowers_the_answer_loss(causal, tmp_path: Path):
    model, tokenizer, encoded = causal
    trainer = make_trainer(model, tokenizer, "causal", encoded, encoded, QUICK, tmp_path)
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    assert trainer.evaluate()["eval_loss"] < before


def test_bf16_autocast_training_saves_an_fp32_adapter(tiny_causal_dir: Path, tmp_path: Path, uneven_pairs):
    config = LoRATrainConfig(max_steps=2, batch_size=4, precision="bf16", val_fraction=0)
    result = train_student(uneven_pairs, str(tiny_causal_dir), tmp_path / "bf16", config)
    assert result.precision == "bf16" and result.epochs_completed > 0
    weights = load_file(tmp_path / "bf16" / "adapter_model.safetensors")
    assert weights and all(str(tensor.dtype) == "torch.float32" for tensor in weights.values())


def test_a_run_stopped_by_its_time_budget_is_evaluated_once_at_the_stop(causal, tmp_path: Path):
    from transformers import TrainerCallback

    from finetune.trainer import best_weights_callback

    class CountEvaluations(TrainerCallback):
        def __init__(self):
            self.steps: list[int] = []

        def on_evaluate(self, args, state, control, **kwargs):
            self.steps.append(state.global_step)

    config = LoRATrainConfig(epochs=50, batch_size=2, time_budget_s=0.0)  # over the budget after the first step
    model, tokenizer, encoded = causal
    trainer = make_trainer(model, tokenizer, "causal", encoded[2:], encoded[:2], config, tmp_path)
    counted, best = CountEvaluations(), best_weights_callback(config.time_budget_s)
    trainer.add_callback(best)
    trainer.add_callback(counted)
    trainer.train()
    assert trainer.state.global_step == 1 and counted.steps == [1]
    assert best.best_loss is not None  # the stop's evaluation picked the weights to keep
    assert trainer.lr_scheduler.lr_lambdas[0](1) == 0.0  # the spent budget decayed the learning rate to zero


def test_the_learning_rate_decays_by_steps_or_by_the_clock_whichever_is_further_along():
    from finetune.trainer import best_weights_callback

    best = best_weights_callback(600.0)
    schedule = best.by_clock(lambda step: 1.0 - step / 100)
    best.budget_left = 0.5
    assert schedule(10) == 0.5  # a fifth of the steps, half the budget: the clock leads
    assert schedule(80) == pytest.approx(0.2)  # four fifths of the steps: the steps lead
