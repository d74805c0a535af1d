"""Teacher LMs: any LiteLLM model string, or a local causal chat model such as the offline SmolLM2.

`make_teacher(spec)` returns a `dspy.LM`. A spec with a provider prefix ("openai/gpt-4o-mini",
"ollama_chat/llama3.1") is handed to LiteLLM unchanged. "smollm2" (`OFFLINE_TEACHER`) or a local
directory becomes a `LocalChatLM`: a `dspy.LM` whose engine (`LocalChatEngine`) runs the model in-process.

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

Deliberate simplifications: decoding is always greedy (temperature is ignored), one request runs at a
time (a lock around generation; DSPy's parallel calls queue rather than batch), and the weights load on
the first call. DSPy's response cache stays on, which is safe because the LM's model id carries a
fingerprint of the weights, the token cap and the decoding scheme: different weights never share entries.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path

import dspy
from dspy.lm15 import Message, Request, Response, TextPart, Usage, response_to_events

from core.errors import RagdistillError
from engine.models import SMOLLM2, load_hf_model, resolve_model

OFFLINE_TEACHER = SMOLLM2
DECODING_SCHEME = "field-guided-v2"
STOP_STRINGS = ("[[", "[#", "\n")
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


class LocalChatEngine:
    """A DSPy engine (`complete(Request) -> Response`) running a local causal chat model with field-guided decoding."""

    def __init__(self, model_dir: str, max_new_tokens: int = 64):
        self.model_dir = str(model_dir)
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()
        self._model = None
        self._tokenizer = None
        self._not_a_value_start: list[int] = []

    def __deepcopy__(self, memo: dict) -> LocalChatEngine:
        # Programs are deep-copied often (optimizers); copies share one loaded model instead of failing on the lock.
        return self

    def _loaded(self):
        """(model, tokenizer), loaded on first use; call with the lock held."""
        if self._model is None:
            resolved = resolve_model(self.model_dir, role="teacher")
            self._model, self._tokenizer = load_hf_model(resolved)
            pieces = self._tokenizer.batch_decode([[token_id] for token_id in range(len(self._tokenizer))])
            self._not_a_value_start = [i for i, piece in enumerate(pieces) if not piece.strip()[:1].isalnum()]
        return self._model, self._tokenizer

    def _generate(
        self, prompt: str, max_new_tokens: int, *, field_value: bool, alnum_start: bool = False
    ) -> tuple[str, int, int]:
        """Greedy continuation of `prompt`: (text, prompt tokens, new tokens).

        A field value ends at a stop string (free text at eos); with `alnum_start` it starts with a letter or digit.
        """
        model, tokenizer = self._loaded()
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        output = model.generate(
            **inputs,
            begin_suppress_tokens=self._not_a_value_start if alnum_start else None,
            stop_strings=list(STOP_STRINGS) if field_value else None,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            max_new_tokens=max_new_tokens,
            tokenizer=tokenizer,
            pad_token_id=tokenizer.pad_token_id,
        )
        new_tokens = output[0, inputs["input_ids"].shape[1] :]
        return tokenizer.decode(new_tokens, skip_special_tokens=True), inputs["input_ids"].shape[1], len(new_tokens)

    def _field_value(self, prompt: str, max_new_tokens: int) -> tuple[str, int, int]:
        """One cleaned field value, generated again with a letter or digit first when it comes out empty."""
        value, input_tokens, output_tokens = self._generate(prompt, max_new_tokens, field_value=True)
        if not clean_value(value):
            value, more_input, more_output = self._generate(prompt, max_new_tokens, field_value=True, alnum_start=True)
            input_tokens, output_tokens = input_tokens + more_input, output_tokens + more_output
        return clean_value(value), input_tokens, output_tokens

    def _chat_prompt(self, request: Request) -> str:
        """The request rendered with the model's chat template, ending where the assistant starts."""
        messages = []
        if request.system is not None:
            system = request.system if isinstance(request.system, str) else "".join(p.text for p in request.system)
            messages.append({"role": "system", "content": system})
        messages.extend({"role": m.role, "content": m.text or ""} for m in request.messages)
        _, tokenizer = self._loaded()
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def complete(self, request: Request) -> Response:
        """Answer one request: write each requested field's marker, generate its value, close the output."""
        cap = min(self.max_new_tokens, request.config.max_tokens or self.max_new_tokens)
        with self._lock:
            prompt = self._chat_prompt(request)
            fields = requested_output_fields(request.messages[-1].text or "")
            input_tokens = output_tokens = 0
            if not fields:
                text, input_tokens, output_tokens = self._generate(prompt, cap, field_value=False)
                text = text.strip()
            else:
                text = ""
                for name in fields:
                    text += f"[[ ## {name} ## ]]\n"
                    value, prompt_tokens, new_tokens = self._field_value(prompt + text, cap)
                    text += value + "\n\n"
                    input_tokens += prompt_tokens
                    output_tokens += new_tokens
                text += "[[ ## completed ## ]]"
        return Response(
            id=None,
            model=request.model,
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        )

    def stream(self, request: Request):
        """The whole response as one stream of events (no token streaming)."""
        return response_to_events(self.complete(request))

    def close(self) -> None:
        """Nothing to close: the weights stay loaded as long as the engine lives."""

    def dump_state(self) -> dict:
        """What `load_state` needs to rebuild this engine (saved with a program's LM)."""
        return {"model_dir": self.model_dir, "max_new_tokens": self.max_new_tokens}

    @classmethod
    def load_state(cls, state: dict) -> LocalChatEngine:
        """Rebuild an engine from `dump_state` output."""
        return cls(**state)


def _model_id(model_dir: Path, max_new_tokens: int) -> str:
    """`local/<dir name>-<fingerprint>`: the fingerprint changes with the weights, the cap and the decoding."""
    weights = sorted(model_dir.glob("*.safetensors"))
    facts = [str(model_dir), DECODING_SCHEME, str(max_new_tokens)]
    facts += [f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights]
    return f"local/{model_dir.name}-{hashlib.sha256('|'.join(facts).encode()).hexdigest()[:10]}"


class LocalChatLM(dspy.LM):
    """A `dspy.LM` served by a `LocalChatEngine`; saved programs reload it with `allow_unsafe_lm_state=True`."""

    def __init__(self, model: str, *, engine: LocalChatEngine, **kwargs):
        super().__init__(model, engine=engine, **kwargs)

    @classmethod
    def from_dir(cls, model_dir: str | Path, *, max_new_tokens: int = 64, cache: bool = True) -> LocalChatLM:
        """A teacher LM for the causal chat model in `model_dir`."""
        model_dir = Path(model_dir).resolve()
        engine = LocalChatEngine(str(model_dir), max_new_tokens=max_new_tokens)
        return cls(_model_id(model_dir, max_new_tokens), engine=engine, cache=cache)


def _has_chat_template(model_dir: Path) -> bool:
    """Whether the tokenizer in `model_dir` ships a chat template (as a file or inside tokenizer_config.json)."""
    config = model_dir / "tokenizer_config.json"
    in_config = config.exists() and "chat_template" in json.loads(config.read_text(encoding="utf-8"))
    return in_config or (model_dir / "chat_template.jinja").exists()


def _looks_like_path(spec: str) -> bool:
    """Whether `spec` names a file system path rather than a LiteLLM "provider/model" string."""
    return spec.startswith(("/", "./", "../", "~")) or Path(spec).expanduser().exists()


def make_teacher(spec: str, *, api_base: str | None = None, max_new_tokens: int = 64, cache: bool = True) -> dspy.LM:
    """A teacher LM: a LiteLLM model string ("provider/model"), "smollm2", or a local causal model directory.

    `api_base` applies to LiteLLM models only; `max_new_tokens` caps each field a local model writes.
    """
    if check_teacher_spec(spec, api_base=api_base) == "local":
        resolved = resolve_model(spec, role="teacher")
        if resolved.family != "causal":
            raise RagdistillError(f"teacher '{spec}' is a {resolved.family} model; a local teacher must be causal")
        if not _has_chat_template(resolved.path):
            raise RagdistillError(f"teacher '{spec}' has no chat template; a local teacher must be a chat model")
        return LocalChatLM.from_dir(resolved.path, max_new_tokens=max_new_tokens, cache=cache)
    return dspy.LM(spec, api_base=api_base, cache=cache)


def check_teacher_spec(spec: str, *, api_base: str | None = None) -> str:
    """Cheap validation of a teacher spec without loading anything: returns "local" or "litellm"."""
    if spec == OFFLINE_TEACHER or _looks_like_path(spec):
        if not Path(spec).expanduser().is_dir() and spec != OFFLINE_TEACHER:
            raise RagdistillError(f"teacher directory '{spec}' does not exist")
        if api_base is not None:
            raise RagdistillError(f"--api-base is for LiteLLM teachers; '{spec}' is a local model")
        return "local"
    provider, _, model = spec.partition("/")
    if not provider or not model:
        raise RagdistillError(f"teacher '{spec}' is neither a LiteLLM model string (provider/model) nor a local model")
    return "litellm"
