"""The student's training data: pairs tokenized once, batches of similar length, a loss on answer tokens only.

`encode_pair` turns one rendered (prompt, completion) pair into token ids before training starts; the
Trainer's collator then only pads (to the longest pair of each batch: dynamic padding), and the Trainer
groups pairs of similar length into a batch (`group_by_length`) so that padding stays small.

For causal models the labels mask the prompt with -100, so only the answer is learned. `AnswerCollator` and
`answer_token_loss` go one step further: the model projects only the positions that predict an answer
token onto its vocabulary (`logits_to_keep`), instead of every prompt position. SmolLM2's output layer
(576 x 49,152 weights) is about a fifth of the work of a forward pass over a whole prompt, and its
softmax over 49k words at ~300 positions per pair is memory-bound on a CPU; the loss is the same number.

Simplified: a model whose forward pass cannot keep a per-row position mask (older architectures) is
trained with the ordinary full-logits loss (`keeps_answer_logits` says which).
"""

from __future__ import annotations

import math
import random
import sys
from typing import Any

from engine.models import Family


def encode_pair(
    tokenizer, family: Family, text: str, completion: str, max_input_tokens: int, max_target_tokens: int
) -> dict[str, list[int]]:
    """Token ids and labels of one pair whose prompt is already rendered (`finetune.prompt.render_for_model`)."""
    if family == "seq2seq":
        input_ids = tokenizer(text, truncation=True, max_length=max_input_tokens)["input_ids"]
        labels = tokenizer(text_target=completion, truncation=True, max_length=max_target_tokens)["input_ids"]
        return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}
    prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(completion, add_special_tokens=False)["input_ids"][: max_target_tokens - 1]
    answer_ids = answer_ids + [tokenizer.eos_token_id]
    input_ids = prompt_ids + answer_ids
    labels = [-100] * len(prompt_ids) + answer_ids
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}


def completion_cap(tokenizer, completions: list[str]) -> int:
    """A completion cap that cuts none of `completions`: the longest one's tokens and its end token, plus a
    quarter (at least 4 tokens) for served answers a little longer than any trained one."""
    longest = max(len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in completions) + 1
    return longest + max(4, longest // 4)


def split_pairs(pairs: list[tuple[str, str]], val_fraction: float, seed: int) -> tuple[list, list]:
    """(train, validation) pairs, shuffled with `seed`; at least one validation pair when there are two or more."""
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    n_val = math.ceil(len(shuffled) * val_fraction) if len(shuffled) >= 2 and val_fraction > 0 else 0
    return shuffled[n_val:], shuffled[:n_val]


def keeps_answer_logits(model) -> bool:
    """Whether `model` (or the model inside a peft wrapper) accepts a per-row boolean `logits_to_keep` mask."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return hasattr(sys.modules[type(base).__module__], "slice_logits_to_keep")


class AnswerCollator:
    """Pads a batch (`DataCollatorForSeq2Seq`) and adds `logits_to_keep`: the positions predicting answer tokens."""

    def __init__(self, pad):
        self.pad = pad

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.pad(features)
        labels = batch["labels"]
        keep = labels.new_zeros(labels.shape, dtype=bool)
        keep[:, :-1] = labels[:, 1:] != -100
        batch["logits_to_keep"] = keep
        return batch


def answer_token_loss(outputs, labels, num_items_in_batch=None):
    """Cross-entropy of the kept logits (one row per answer token) against the answer tokens they predict.

    The Trainer's `compute_loss_func`: summed and divided by `num_items_in_batch` when the Trainer counts the
    answer tokens of the batch (gradient accumulation), averaged otherwise, as the model's own loss does.
    """
    import torch

    targets = labels[:, 1:][labels[:, 1:] != -100]
    loss = torch.nn.functional.cross_entropy(outputs.logits.float(), targets.to(outputs.logits.device), reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else max(targets.numel(), 1)
    return loss / count
