"""Teacher LMs: any LiteLLM model string, or a local causal chat model such as the offline SmolLM2.

`make_teacher(spec)` returns a `dspy.LM`. A spec with a provider prefix ("openai/gpt-4o-mini",
"ollama_chat/llama3.1") is handed to LiteLLM unchanged. "smollm2" (`OFFLINE_TEACHER`) or a local
directory becomes a `LocalChatLM`: a `dspy.LM` whose engine (`LocalChatEngine`) runs the model in-process.
A `module:attribute` spec names a user's own LM (a `dspy.BaseLM`, or a function returning one), e.g. a
`DummyLM` replaying recorded answers offline (`python_teacher`).

Small models ignore DSPy's `[[ ## field ## ]]` output format when asked to write it, so the local engine
uses field-guided decoding: it reads the requested output fields from ChatAdapter's closing
instruction ("Respond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`
..."), writes each marker itself after the assistant turn starts, lets the model generate only the
value (greedy, capped, stopped at `[[`, `[#` or a line break) and ends with `[[ ## completed ## ]]`.
Values are one line: SmolLM2 otherwise continues an answer as a numbered list copied from DSPy's context
format (`[1] 1742\n[2] 1742 ...`), so list numbers and markdown bold/quotes are stripped too. When a value
comes out empty (the model opened it with `[#]`, `{context}`, a code fence or a blank line), it is
generated once more with every token that does not start with a letter or digit banned as its first token.
A prompt without that instruction gets one free-form greedy completion.

The engine is an `engine.local.LocalEngine`: concurrent requests (DSPy's `num_threads` workers) run as one
batch, field by field: round r writes the r-th field of every request at once, each row stopping at its own
stop string, and the empty values of a round are generated again together.

Deliberate simplifications: decoding is always greedy (temperature is ignored), and the weights load on
the first call. DSPy's response cache stays on, which is safe because the LM's model id carries a
fingerprint of the weights, the token cap, the decoding scheme and the backend: different weights or
numerics never share entries.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import dspy
from dspy.lm15 import Request

from core.errors import ConfigError, ModelNotFoundError, ProgramError
from core.imports import import_object, is_object_spec
from engine.backends import Backend, Generation
from engine.ct2 import cached_conversion_dir, dir_fingerprint, open_backend
from engine.local import LocalEngine, request_text
from engine.models import SMOLLM2, load_hf_model, resolve_model

OFFLINE_TEACHER = SMOLLM2
DECODING_SCHEME = "field-guided-v2"
STOP_STRINGS = ("[[", "[#", "\n")
FIELD_TOKENS = 32
"""Token cap on each field the local teacher writes: answers and queries are a few words, and a value that
runs on (a copied passage, a loop) costs a decoding step per token over the whole long prompt."""
TEACHER_BACKEND = "auto"
"""The local teacher's default backend: CTranslate2 where installed (the compiled multi-hop teacher's prompts
are long, and it read them 1.4-1.7x faster than stock generate in a probe), else transformers."""
# The model often writes a value like an item of DSPy's numbered context list: `[2] **Name**`.
_LIST_NUMBER = re.compile(r"^\[\d+\]\s*")

_OUTPUT_REQUEST = re.compile(r"Respond with the corresponding output fields, starting with the field (.*?)(?:\n|$)")
_FIELD_MARKER = re.compile(r"`\[\[ ## (\w+) ## \]\]`")


def requested_output_fields(prompt: str) -> list[str]:
    """The output field names ChatAdapter asks for in `prompt`, in order (empty when it asks for none)."""
    requests = _OUTPUT_REQUEST.findall(prompt)
    if not requests:
        return []
    return [name for name in _FIELD_MARKER.findall(requests[-1]) if name != "completed"]


def clean_value(text: str) -> str:
    """A generated field value: `text` up to the first stop string, without list numbering, bold or quotes."""
    for stop in STOP_STRINGS:
        text = text.split(stop, 1)[0]
    return _LIST_NUMBER.sub("", text.strip()).strip('*" ')


@dataclass(frozen=True)
class ChatJob:
    """One request for the teacher: its chat prompt, the fields to write (none: free text) and the token cap."""

    prompt: str
    fields: tuple[str, ...]
    cap: int


class LocalChatEngine(LocalEngine):
    """A local causal chat model answering DSPy requests with field-guided decoding, batched (`engine.local`)."""

    def __init__(self, model_dir: str, max_new_tokens: int = FIELD_TOKENS, **engine_settings):
        super().__init__(**engine_settings)
        self.model_dir = str(model_dir)
        self.max_new_tokens = max_new_tokens

    def settings(self) -> dict:
        return {"model_dir": self.model_dir, "max_new_tokens": self.max_new_tokens}

    def load_backend(self) -> Backend:
        resolved = resolve_model(self.model_dir, role="teacher")
        return open_backend(
            self.backend,
            self.compute_type,
            family="causal",
            load_hf=lambda: load_hf_model(resolved),
            ct2_dir=cached_conversion_dir(resolved.path),
            inputs={"base": dir_fingerprint(resolved.path)},
        )

    def job(self, request: Request, backend: Backend) -> ChatJob:
        """The chat prompt (ending where the assistant starts), the requested fields and the cap."""
        system, messages = request_text(request)
        chat = ([{"role": "system", "content": system}] if system is not None else []) + messages
        prompt = backend.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        cap = min(self.max_new_tokens, request.config.max_tokens or self.max_new_tokens)
        return ChatJob(prompt, tuple(requested_output_fields(messages[-1]["content"])), cap)

    def run_jobs(self, backend: Backend, jobs: list[ChatJob]) -> list[tuple[str, int, int]]:
        """Free-text jobs in one batch; field jobs in rounds, round r writing every job's r-th field at once."""
        texts = [""] * len(jobs)
        usage = [[0, 0] for _ in jobs]
        free = [row for row, job in enumerate(jobs) if not job.fields]
        free_text = _generate(backend, [jobs[r].prompt for r in free], [jobs[r].cap for r in free])
        for row, generation in zip(free, free_text, strict=True):
            texts[row] = generation.text.strip()
            usage[row] = [generation.input_tokens, generation.output_tokens]
        for round_ in range(max((len(job.fields) for job in jobs), default=0)):
            rows = [row for row, job in enumerate(jobs) if round_ < len(job.fields)]
            for row in rows:
                texts[row] += f"[[ ## {jobs[row].fields[round_]} ## ]]\n"
            prompts, caps = [jobs[r].prompt + texts[r] for r in rows], [jobs[r].cap for r in rows]
            for row, (value, tokens_in, tokens_out) in zip(rows, _field_values(backend, prompts, caps), strict=True):
                texts[row] += value + "\n\n"
                usage[row][0] += tokens_in
                usage[row][1] += tokens_out
        for row, job in enumerate(jobs):
            if job.fields:
                texts[row] += "[[ ## completed ## ]]"
        return [(text, tokens_in, tokens_out) for text, (tokens_in, tokens_out) in zip(texts, usage, strict=True)]


def _generate(backend: Backend, prompts: list[str], caps: list[int], **options) -> list[Generation]:
    """`backend.generate` over prompts whose token caps may differ (one call per distinct cap)."""
    results: list[Generation | None] = [None] * len(prompts)
    for cap in sorted(set(caps)):
        rows = [row for row, row_cap in enumerate(caps) if row_cap == cap]
        for row, generation in zip(rows, backend.generate([prompts[r] for r in rows], cap, **options), strict=True):
            results[row] = generation
    return results  # type: ignore[return-value]


def _field_values(backend: Backend, prompts: list[str], caps: list[int]) -> list[tuple[str, int, int]]:
    """(cleaned value, input tokens, output tokens) per prompt; empty values are generated once more, together,
    with a letter or digit as their first token."""
    first = _generate(backend, prompts, caps, stop_strings=STOP_STRINGS)
    values = [(clean_value(g.text), g.input_tokens, g.output_tokens) for g in first]
    retry = [row for row, (value, _, _) in enumerate(values) if not value]
    if retry:
        again = _generate(backend, [prompts[r] for r in retry], [caps[r] for r in retry], stop_strings=STOP_STRINGS,
                          alnum_start=True)  # fmt: skip
        for row, generation in zip(retry, again, strict=True):
            _, tokens_in, tokens_out = values[row]
            values[row] = (clean_value(generation.text), tokens_in + generation.input_tokens,
                           tokens_out + generation.output_tokens)  # fmt: skip
    return values


def _model_id(model_dir: Path, max_new_tokens: int, backend: str, compute_type: str) -> str:
    """`local/<dir name>-<fingerprint>`: the fingerprint changes with the weights, the cap, the decoding and the
    backend's numerics."""
    facts = [DECODING_SCHEME, str(max_new_tokens), backend, compute_type, *dir_fingerprint(model_dir)]
    return f"local/{model_dir.name}-{hashlib.sha256('|'.join(facts).encode()).hexdigest()[:10]}"


class LocalChatLM(dspy.LM):
    """A `dspy.LM` served by a `LocalChatEngine`; saved programs reload it with `allow_unsafe_lm_state=True`."""

    def __init__(self, model: str, *, engine: LocalChatEngine, **kwargs):
        super().__init__(model, engine=engine, **kwargs)

    @classmethod
    def from_dir(
        cls,
        model_dir: str | Path,
        *,
        max_new_tokens: int = FIELD_TOKENS,
        cache: bool = True,
        backend: str = TEACHER_BACKEND,
        compute_type: str = "auto",
    ) -> LocalChatLM:
        """A teacher LM for the causal chat model in `model_dir`, generating on `backend` (see `engine.ct2`)."""
        model_dir = Path(model_dir).resolve()
        engine = LocalChatEngine(str(model_dir), max_new_tokens=max_new_tokens, backend=backend,
                                 compute_type=compute_type)  # fmt: skip
        return cls(_model_id(model_dir, max_new_tokens, backend, compute_type), engine=engine, cache=cache)


def _has_chat_template(model_dir: Path) -> bool:
    """Whether the tokenizer in `model_dir` ships a chat template (as a file or inside tokenizer_config.json)."""
    config = model_dir / "tokenizer_config.json"
    in_config = config.exists() and "chat_template" in json.loads(config.read_text(encoding="utf-8"))
    return in_config or (model_dir / "chat_template.jinja").exists()


def _looks_like_path(spec: str) -> bool:
    """Whether `spec` names a file system path rather than a LiteLLM "provider/model" string."""
    return spec.startswith(("/", "./", "../", "~")) or Path(spec).expanduser().exists()


def make_teacher(
    spec: str,
    *,
    api_base: str | None = None,
    max_new_tokens: int = FIELD_TOKENS,
    cache: bool = True,
    backend: str = TEACHER_BACKEND,
    compute_type: str = "auto",
) -> dspy.LM:
    """A teacher LM: a LiteLLM model string ("provider/model"), "smollm2", or a local causal model directory.

    `api_base` applies to LiteLLM models only; `max_new_tokens` caps each field a local model writes, and
    `backend`/`compute_type` choose how a local model generates (`engine.ct2.open_backend`).
    """
    kind = check_teacher_spec(spec, api_base=api_base)
    if kind == "python":
        return python_teacher(spec)
    if kind == "local":
        resolved = resolve_model(spec, role="teacher")
        if resolved.family != "causal":
            raise ConfigError(f"teacher '{spec}' is a {resolved.family} model; a local teacher must be causal")
        if not _has_chat_template(resolved.path):
            raise ConfigError(f"teacher '{spec}' has no chat template; a local teacher must be a chat model")
        return LocalChatLM.from_dir(
            resolved.path, max_new_tokens=max_new_tokens, cache=cache, backend=backend, compute_type=compute_type
        )
    return dspy.LM(spec, api_base=api_base, cache=cache)


def python_teacher(spec: str) -> dspy.BaseLM:
    """The teacher a `module:attribute` spec names: a `dspy.BaseLM`, or a function returning one."""
    found = import_object(spec, "teacher")
    lm = found if isinstance(found, dspy.BaseLM) or not callable(found) else found()
    if not isinstance(lm, dspy.BaseLM):
        raise ProgramError(f"teacher {spec!r} gives a {type(lm).__name__}, not a dspy LM")
    return lm


def check_teacher_spec(spec: str, *, api_base: str | None = None) -> str:
    """Cheap validation of a teacher spec without loading anything: returns "local", "litellm" or "python"."""
    if is_object_spec(spec):
        if api_base is not None:
            raise ConfigError(f"--api-base is for LiteLLM teachers; '{spec}' names a Python object")
        return "python"
    if spec == OFFLINE_TEACHER or _looks_like_path(spec):
        if not Path(spec).expanduser().is_dir() and spec != OFFLINE_TEACHER:
            raise ModelNotFoundError(f"teacher directory '{spec}' does not exist")
        if api_base is not None:
            raise ConfigError(f"--api-base is for LiteLLM teachers; '{spec}' is a local model")
        return "local"
    provider, _, model = spec.partition("/")
    if not provider or not model:
        raise ConfigError(f"teacher '{spec}' is neither a LiteLLM model string (provider/model) nor a local model")
    return "litellm"
