"""Generation backends behind the local LM engine: stock transformers, or a CTranslate2 conversion.

A backend turns already rendered prompt texts into greedy continuations, many at once:
`backend.generate(texts, max_new_tokens, ...) -> list[Generation]`. Every row's result is the one it
would get alone (the engine relies on that to group concurrent calls):

- `TransformersBackend` runs `model.generate` on one left-padded batch with its attention mask. Stop
  strings use HF's `StopStringCriteria`, which marks each row finished on its own; a row's first token can
  be restricted to letters and digits (`alnum_start`) with `begin_suppress_tokens`.
- `CT2Backend` runs a model converted by `engine.ct2` (`ctranslate2.Generator` for causal models,
  `Translator` for seq2seq ones). Stop strings are checked per row in the step callback, which ends that
  row only; `alnum_start` takes one step with the vocabulary logits, picks the best allowed token and
  continues from it (what `begin_suppress_tokens` does under greedy decoding).

Texts come back up to and including the stop string that ended them; the caller cuts there, so a row that
ran past its stop inside a batch still gives the same value. `backend.score(text, continuations, eos=...)`
gives the log-probability of each continuation after a rendered prompt, tokenized as training tokenizes a
completion (a student decides a choice-valued output by it, see `finetune.adapter`).

Deliberate simplifications: greedy or beam search only (no sampling); CTranslate2 decodes causal prompts of
different lengths token by token past the shortest one, so its rows run in batches of equal-length prompts
(see `CT2Backend.generate`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from engine.models import Family


@dataclass(frozen=True)
class Generation:
    """One generated continuation and its token counts."""

    text: str
    """The new text (special tokens removed)."""
    input_tokens: int
    """Tokens of the prompt."""
    output_tokens: int
    """Tokens generated."""


class Backend(Protocol):
    """What the engine needs from a backend."""

    name: str
    """"transformers" or "ct2"."""
    compute_type: str
    """The precision the weights compute in (a torch dtype name, or a CTranslate2 compute type)."""
    family: Family
    """"causal" or "seq2seq"."""
    tokenizer: PreTrainedTokenizerBase
    """The model's tokenizer (causal ones pad on the left)."""

    def generate(
        self,
        texts: list[str],
        max_new_tokens: int,
        *,
        stop_strings: tuple[str, ...] = (),
        alnum_start: bool = False,
        num_beams: int = 1,
        max_input_tokens: int | None = None,
    ) -> list[Generation]: ...

    def score(self, text: str, continuations: list[str], *, eos: bool, max_input_tokens: int | None = None
              ) -> list[float]: ...  # fmt: skip


def continuation_ids(tokenizer: PreTrainedTokenizerBase, family: Family, continuation: str, eos: bool) -> list[int]:
    """A continuation's token ids as training encodes a completion (`finetune.data.encode_pair`): causal models
    without special tokens, plus the end-of-sequence token when `eos`; T5 ends with `</s>` only when `eos`."""
    ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    return ids + [tokenizer.eos_token_id] if eos else ids


def not_alnum_start(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Ids of the tokens whose text does not start with a letter or digit (banned as a value's first token)."""
    pieces = tokenizer.batch_decode([[token_id] for token_id in range(len(tokenizer))])
    return [i for i, piece in enumerate(pieces) if not piece.strip()[:1].isalnum()]


def _stopped(text: str, stop_strings: tuple[str, ...]) -> bool:
    return any(stop in text for stop in stop_strings)


class TransformersBackend:
    """Stock `transformers` generation (also the training path's model class)."""

    name = "transformers"

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, family: Family):
        self.model = model
        self.tokenizer = tokenizer
        self.family = family
        self.compute_type = str(model.dtype).removeprefix("torch.")
        self._banned_first: list[int] | None = None

    def generate(
        self,
        texts: list[str],
        max_new_tokens: int,
        *,
        stop_strings: tuple[str, ...] = (),
        alnum_start: bool = False,
        num_beams: int = 1,
        max_input_tokens: int | None = None,
    ) -> list[Generation]:
        """Continuations of `texts` from one padded `generate` call (see the module docstring)."""
        import torch

        tokenizer, causal = self.tokenizer, self.family == "causal"
        # Causal texts are rendered (chat template, cut) by the caller; seq2seq inputs get T5's </s> and a cut.
        limits = {"add_special_tokens": False} if causal else {"truncation": True, "max_length": max_input_tokens}
        batch = tokenizer(texts, return_tensors="pt", padding=True, **limits).to(self.model.device)
        if alnum_start and self._banned_first is None:
            self._banned_first = not_alnum_start(tokenizer)
        with torch.inference_mode():
            output = self.model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                stop_strings=list(stop_strings) or None,
                tokenizer=tokenizer,
                begin_suppress_tokens=self._banned_first if alnum_start else None,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        new = output[:, batch["input_ids"].shape[1] :] if causal else output[:, 1:]  # T5 starts from its pad token
        ends = {tokenizer.pad_token_id, tokenizer.eos_token_id}
        prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
        results = []
        for ids, prompt_length in zip(new.tolist(), prompt_lengths, strict=True):
            length = next((i for i, token in enumerate(ids) if token in ends), len(ids))
            text = tokenizer.decode(ids[:length], skip_special_tokens=True)
            results.append(Generation(text, int(prompt_length), length))
        return results

    def score(self, text: str, continuations: list[str], *, eos: bool, max_input_tokens: int | None = None
              ) -> list[float]:  # fmt: skip
        """Summed log-probabilities of each continuation after `text` (one padded forward pass)."""
        import torch

        tokenizer, causal = self.tokenizer, self.family == "causal"
        targets = [continuation_ids(tokenizer, self.family, c, eos) for c in continuations]
        if causal:
            prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
            rows = [prompt + target for target in targets]
            encoder = None
        else:
            prompt = tokenizer(text, truncation=True, max_length=max_input_tokens)["input_ids"]
            rows = targets
            encoder = torch.tensor([prompt] * len(targets), device=self.model.device)
        width = max(len(row) for row in rows)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=self.model.device)
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows], device=self.model.device)
        with torch.inference_mode():
            if causal:
                logits = self.model(input_ids=ids, attention_mask=mask).logits[:, :-1]
                observed, offset = ids[:, 1:], len(prompt) - 1
            else:
                logits = self.model(input_ids=encoder, labels=ids.masked_fill(mask == 0, -100)).logits
                observed, offset = ids, 0
            logprobs = torch.log_softmax(logits.float(), dim=-1).gather(-1, observed.unsqueeze(-1)).squeeze(-1)
        return [float(logprobs[row, offset : offset + len(target)].sum()) for row, target in enumerate(targets)]


def _threads() -> int:
    """CPU cores this process may use (CTranslate2's own default caps at 4)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class CT2Backend:
    """A CTranslate2 model directory (written by `engine.ct2.convert`) and the tokenizer of its source."""

    name = "ct2"

    def __init__(
        self, model_dir: Path, tokenizer: PreTrainedTokenizerBase, family: Family, compute_type: str, device: str
    ):
        import ctranslate2

        self.tokenizer = tokenizer
        self.family = family
        self.compute_type = compute_type
        model_class = ctranslate2.Generator if family == "causal" else ctranslate2.Translator
        self.model = model_class(str(model_dir), device=device, compute_type=compute_type, intra_threads=_threads())
        self._banned_first: set[int] | None = None

    def generate(
        self,
        texts: list[str],
        max_new_tokens: int,
        *,
        stop_strings: tuple[str, ...] = (),
        alnum_start: bool = False,
        num_beams: int = 1,
        max_input_tokens: int | None = None,
    ) -> list[Generation]:
        """Continuations of `texts` (see the module docstring); causal prompts run grouped by equal length."""
        tokenizer = self.tokenizer
        if self.family == "seq2seq":
            ids = tokenizer(texts, truncation=True, max_length=max_input_tokens)["input_ids"]
            return self._translate(ids, max_new_tokens, num_beams)
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        results: list[Generation | None] = [None] * len(ids)
        by_length: dict[int, list[int]] = {}
        for row, prompt in enumerate(ids):
            by_length.setdefault(len(prompt), []).append(row)
        for rows in by_length.values():
            group = self._generate([ids[row] for row in rows], max_new_tokens, stop_strings, alnum_start, num_beams)
            for row, generation in zip(rows, group, strict=True):
                results[row] = generation
        return results  # type: ignore[return-value]

    def _translate(self, ids: list[list[int]], max_new_tokens: int, num_beams: int) -> list[Generation]:
        tokens = [self.tokenizer.convert_ids_to_tokens(row) for row in ids]
        outputs = self.model.translate_batch(tokens, beam_size=num_beams, max_decoding_length=max_new_tokens)
        results = []
        for prompt, output in zip(ids, outputs, strict=True):
            new = self.tokenizer.convert_tokens_to_ids(output.hypotheses[0])
            results.append(Generation(self.tokenizer.decode(new, skip_special_tokens=True), len(prompt), len(new)))
        return results

    def score(self, text: str, continuations: list[str], *, eos: bool, max_input_tokens: int | None = None
              ) -> list[float]:  # fmt: skip
        """Summed log-probabilities of each continuation after `text` (CTranslate2's `score_batch`)."""
        tokenizer = self.tokenizer
        as_tokens = tokenizer.convert_ids_to_tokens
        if self.family == "seq2seq":  # CTranslate2 appends </s> to each target itself and scores it too
            source = tokenizer(text, truncation=True, max_length=max_input_tokens)["input_ids"]
            plain = [continuation_ids(tokenizer, self.family, c, eos=False) for c in continuations]
            results = self.model.score_batch([as_tokens(source)] * len(plain), [as_tokens(t) for t in plain])
            return [sum(r.log_probs if eos else r.log_probs[: len(t)]) for r, t in zip(results, plain, strict=True)]
        targets = [continuation_ids(tokenizer, self.family, c, eos) for c in continuations]
        prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
        results = self.model.score_batch([as_tokens(prompt + target) for target in targets], max_input_length=0)
        return [sum(result.log_probs[-len(target) :]) for result, target in zip(results, targets, strict=True)]

    def _first_tokens(self, tokens: list[list[str]]) -> list[int]:
        """Each row's best first token among those starting with a letter or digit."""
        import numpy as np

        if self._banned_first is None:
            self._banned_first = set(not_alnum_start(self.tokenizer))
        banned = np.array(sorted(self._banned_first))
        steps = self.model.generate_batch(
            tokens, max_length=1, include_prompt_in_result=False, return_logits_vocab=True
        )
        chosen = []
        for step in steps:
            logits = np.array(step.logits[0], dtype=np.float32).reshape(-1)
            logits[banned[banned < logits.size]] = -np.inf
            chosen.append(int(logits.argmax()))
        return chosen

    def _generate(
        self,
        ids: list[list[int]],
        max_new_tokens: int,
        stop_strings: tuple[str, ...],
        alnum_start: bool,
        num_beams: int,
    ) -> list[Generation]:
        """Equal-length causal prompts in one `generate_batch` call, each row stopped on its own."""
        tokenizer = self.tokenizer
        tokens = [tokenizer.convert_ids_to_tokens(row) for row in ids]
        generated: list[list[int]] = [[] for _ in ids]
        if alnum_start:
            for row, first in enumerate(self._first_tokens(tokens)):
                generated[row].append(first)
                tokens[row] = [*tokens[row], tokenizer.convert_ids_to_tokens(first)]
        callback = None
        if stop_strings and num_beams == 1:

            def callback(step) -> bool:  # True ends this row only
                generated[step.batch_id].append(step.token_id)
                return _stopped(tokenizer.decode(generated[step.batch_id]), stop_strings)

        budget = max_new_tokens - int(alnum_start)
        if budget > 0:
            outputs = self.model.generate_batch(
                tokens, max_length=budget, beam_size=num_beams, include_prompt_in_result=False, callback=callback
            )
            if callback is None:  # the callback collected the tokens itself
                for row, output in enumerate(outputs):
                    generated[row] += output.sequences_ids[0]
        results = []
        for prompt, new in zip(ids, generated, strict=True):
            new = [token for token in new if token != tokenizer.eos_token_id]
            results.append(Generation(tokenizer.decode(new, skip_special_tokens=True), len(prompt), len(new)))
        return results
