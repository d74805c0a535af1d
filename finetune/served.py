"""The exported student answering from a standard serving engine: `ServedStudentLM`, DSPy's own `dspy.LM` path.

`python -m finetune.export` writes the student as a plain Hugging Face model; vLLM, SGLang or TGI serve it
behind an OpenAI-compatible API (`vllm serve DIR`). `ServedStudentLM(api_base)` is a `dspy.LM`
(`openai/<served model>`, LiteLLM) that the `finetune.adapter.StudentAdapter` prompts as a student: one user
message holding the student prompt, which the server renders with the model's chat template (causal models),
as `ragdistill_prompt.json` describes. Decoding is greedy (temperature 0) and capped at the trained length.

Simplified: the served model name is asked from the server (`GET /models`) when not given, and must be the
only one it serves; the student's prompt is not cut to `max_input_tokens` here (engines refuse or truncate
over-long prompts by their own settings).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import dspy

from core.errors import ConfigError, ServiceError
from finetune.prompt import StudentMessagesOnly


def served_model(api_base: str, api_key: str | None = None, timeout_s: float = 10.0) -> str:
    """The one model an OpenAI-compatible server at `api_base` serves (its `GET /models`)."""
    request = urllib.request.Request(api_base.rstrip("/") + "/models")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            models = [entry["id"] for entry in json.load(response)["data"]]
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as err:
        raise ServiceError(f"cannot list the models served at {api_base}: {err}") from None
    if len(models) != 1:
        raise ConfigError(f"{api_base} serves {len(models)} models ({', '.join(models)}): name the student's")
    return models[0]


class ServedStudentLM(StudentMessagesOnly, dspy.LM):
    """A student served by an OpenAI-compatible engine, prompted as a student by the `StudentAdapter`."""

    def __init__(self, api_base: str, model: str | None = None, *, max_tokens: int = 64, api_key: str | None = None,
                 **kwargs: Any):  # fmt: skip
        name = model or served_model(api_base, api_key)
        super().__init__(f"openai/{name}", api_base=api_base, api_key=api_key or "none", temperature=0.0,
                         max_tokens=max_tokens, cache=False, **kwargs)  # fmt: skip
