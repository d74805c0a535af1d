"""`StudentAdapter`: DSPy calls to a student become student prompts, and its completions become outputs again.

The format itself lives in `finetune.prompt`; this module connects it to DSPy. `StudentAdapter` is a
`dspy.ChatAdapter` subclass (BootstrapFinetune infers its chat data format only from ChatAdapters) and routes
by LM: `StudentLM`s and `ServedStudentLM`s (the exported student behind a serving engine) get the student
prompt, every other LM (the teacher) a normal ChatAdapter without the JSON retry. So it is meant to be the one
global adapter: `dspy.configure(adapter=StudentAdapter())`.

For a student call it
1. names the calling predictor: its path in the program being run (`classify.predict`, from DSPy's stack of
   calling modules), so several predictors of one program stay apart in a multitask student;
2. renders the prompt within the student's budget (its tokenizer and the `max_input_tokens` its record holds,
   `StudentLM.prompt_budget`), exactly as training rendered it;
3. parses the completion; a choice-valued output (`Literal`, `Enum`, `bool`) whose text is not an allowed
   value is decided by scoring every allowed value with the student (`StudentLM.score`), so it never comes
   back invalid.

Training records (`format_finetune_data`, which `dspy.BootstrapFinetune` calls) carry the structured prompt
next to the chat messages, for the trainer to render within the training budget (`finetune.provider`). Their
predictor name comes from `finetune_record(..., task=...)` when the caller knows it (`optimizers.distill`),
else from the call that produced the trace: every `StudentAdapter` remembers each call it routed (signature
and inputs -> predictor name) in one table shared by all instances. When the teacher ran under another adapter
(`BootstrapFinetune(adapter=StudentAdapter())` without `dspy.configure(adapter=StudentAdapter())`), no name is
known: the student is then trained without predictor names, its record says so, and serving leaves them out
too (`StudentLM.predictor_names`), so served prompts still match the trained ones.

Deliberate simplifications: DSPy's tool-calling and native-response planning are skipped for students (a
student has neither); `n > 1` completions are parsed one by one; a `ServedStudentLM` cannot score, so its
invalid choices take the allowed value closest in spelling.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections import OrderedDict
from typing import Any

import dspy
from dspy.clients._deprecation import adapter_message_call

from finetune.lm import StudentLM
from finetune.prompt import (
    build_prompt,
    choice_continuations,
    choices,
    format_completion,
    parse_completion,
)
from finetune.served import ServedStudentLM

CALLS_KEPT = 100_000
"""Routed calls remembered for naming their training records (the oldest are forgotten first)."""
_calls: OrderedDict[tuple[int, str], str | None] = OrderedDict()
"""(signature id, inputs) of each routed call -> the calling predictor's name (see the module docstring)."""
_calls_lock = threading.Lock()


def calling_predictor_name() -> str | None:
    """The path of the predictor being called within the outermost module being run (None for a bare predictor)."""
    callers = dspy.settings.caller_modules or []
    predictors = [module for module in callers if isinstance(module, dspy.Predict)]
    if not predictors or callers[0] is predictors[-1]:
        return None
    return next((name for name, p in callers[0].named_predictors() if p is predictors[-1]), None)


def _call_key(signature: type[dspy.Signature], inputs: dict[str, Any]) -> tuple[int, str]:
    return id(signature), json.dumps(inputs, sort_keys=True, default=str)


def remember_call(signature: type[dspy.Signature], inputs: dict[str, Any]) -> None:
    """Note which predictor made this call, for the training record its trace may become."""
    name = calling_predictor_name()
    with _calls_lock:
        _calls[_call_key(signature, inputs)] = name
        while len(_calls) > CALLS_KEPT:
            _calls.popitem(last=False)


def _closest(text: str, allowed: list[tuple[str, Any]]) -> Any:
    """The allowed value spelled most like `text` (case-insensitive)."""
    lowered = [candidate.lower() for candidate, _ in allowed]
    best = difflib.get_close_matches(text.strip().lower(), lowered, n=1, cutoff=0.0)
    return allowed[lowered.index(best[0])][1] if best else allowed[0][1]


class StudentAdapter(dspy.ChatAdapter):
    """Student prompts for `StudentLM`s, the normal ChatAdapter for every other LM (see the module docstring)."""

    def __init__(self, teacher_adapter: dspy.Adapter | None = None, **kwargs):
        super().__init__(use_json_adapter_fallback=False, **kwargs)
        self.teacher_adapter = teacher_adapter or dspy.ChatAdapter(use_json_adapter_fallback=False)
        """What non-student LMs get; by default ChatAdapter without the JSON retry (weak teachers answer it
        with nonsense that happens to parse)."""

    def __call__(self, lm, lm_kwargs, signature, demos, inputs):
        remember_call(signature, inputs)
        if isinstance(lm, StudentLM | ServedStudentLM):
            return self._student_call(lm, lm_kwargs, signature, demos, inputs)
        return self.teacher_adapter(lm, lm_kwargs, signature, demos, inputs)

    async def acall(self, lm, lm_kwargs, signature, demos, inputs):
        remember_call(signature, inputs)
        if not isinstance(lm, StudentLM | ServedStudentLM):
            return await self.teacher_adapter.acall(lm, lm_kwargs, signature, demos, inputs)
        messages = self.format(signature, demos, inputs, lm=lm)
        with adapter_message_call(lm, messages):
            outputs = await lm.acall(messages=messages, **lm_kwargs)
        return [self._read(lm, signature, messages[0]["content"], output) for output in outputs]

    def _student_call(self, lm, lm_kwargs, signature, demos, inputs) -> list[dict[str, Any]]:
        messages = self.format(signature, demos, inputs, lm=lm)
        with adapter_message_call(lm, messages):
            outputs = lm(messages=messages, **lm_kwargs)
        return [self._read(lm, signature, messages[0]["content"], output) for output in outputs]

    def format(self, signature, demos, inputs, lm: dspy.BaseLM | None = None):
        """One user message holding the student prompt of the calling predictor (demos are not shown), within
        `lm`'s prompt budget and naming conventions when `lm` is a `StudentLM`."""
        student = isinstance(lm, StudentLM)
        budget = lm.prompt_budget() if student else None
        named = lm.predictor_names() if student else True
        prompt = build_prompt(signature, inputs, task=calling_predictor_name(), named=named)
        return [{"role": "user", "content": prompt.render(budget)}]

    def parse(self, signature, completion):
        """Output fields from a student completion; an invalid choice takes the allowed value closest in spelling
        (the student call scores them instead, see `_read`)."""
        parsed = parse_completion(signature, completion or "")
        for name in parsed.invalid:
            allowed = choices(signature.output_fields[name].annotation)
            parsed.values[name] = _closest(completion or "", allowed)
        return parsed.values

    def _read(self, lm, signature, prompt: str, output) -> dict[str, Any]:
        """One completion's output values, invalid choices decided by the student's scores."""
        text = output.get("text") if isinstance(output, dict) else output
        parsed = parse_completion(signature, text or "")
        names = list(signature.output_fields)
        for name, prefix in parsed.invalid.items():
            allowed = choices(signature.output_fields[name].annotation)
            if isinstance(lm, StudentLM):
                continuations, eos = choice_continuations(names, name, prefix, allowed)
                scores = lm.score(prompt, continuations, eos=eos)
                parsed.values[name] = allowed[max(range(len(allowed)), key=scores.__getitem__)][1]
            else:
                parsed.values[name] = _closest(text or "", allowed)
        return parsed.values

    def finetune_record(self, signature, inputs, outputs, task: str | None, named: bool = True) -> dict[str, Any]:
        """A chat-format training record of predictor `task` (`named=False`: not known), with its structured
        prompt for the trainer."""
        prompt = build_prompt(signature, inputs, task=task, named=named)
        completion = format_completion(signature, outputs)
        messages = [{"role": "user", "content": prompt.render()}, {"role": "assistant", "content": completion}]
        return {"messages": messages, "student_prompt": prompt.to_dict()}

    def format_finetune_data(self, signature, demos, inputs, outputs):
        """DSPy's entry point: the training record of a traced teacher call (named as when the teacher ran)."""
        key = _call_key(signature, inputs)
        with _calls_lock:
            named, task = key in _calls, _calls.get(key)
        return self.finetune_record(signature, inputs, outputs, task=task, named=named)
