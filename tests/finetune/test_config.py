"""The training config's data-sized defaults."""

from finetune.config import MAX_DEFAULT_BATCH, MIN_STEPS_PER_EPOCH, LoRATrainConfig


def test_default_batch_gives_small_programs_enough_steps():
    config = LoRATrainConfig()
    assert config.resolved_batch_size(43) == 2
    assert 43 // config.resolved_batch_size(43) >= MIN_STEPS_PER_EPOCH


def test_default_batch_is_capped_and_never_zero():
    config = LoRATrainConfig()
    assert config.resolved_batch_size(10_000) == MAX_DEFAULT_BATCH
    assert config.resolved_batch_size(3) == 1


def test_default_batch_counts_processes_and_accumulation():
    assert LoRATrainConfig().resolved_batch_size(128) == 8
    assert LoRATrainConfig().resolved_batch_size(128, processes=2) == 4
    assert LoRATrainConfig(gradient_accumulation_steps=4).resolved_batch_size(128) == 2


def test_an_explicit_batch_size_wins():
    assert LoRATrainConfig(batch_size=4).resolved_batch_size(10_000) == 4
