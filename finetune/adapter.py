"""How a DSPy signature becomes a student prompt and a completion becomes output fields again.

Formats (a small model is trained on the task, so the prompt only has to tell tasks apart):
- the answer signature (inputs `question` and `context`, output `answer`) uses the seed format
  `answer the question based on the context: question: <question> context: <passages>`;
- any other signature becomes `<outputs> from <inputs>: <field>: <value> <field>: <value>`, the task prefix
  naming the fields so that several predictors can share one multitask student.
The completion is the output value itself for a single output field, and `<field>: <value>` segments for
several; an empty or partial completion parses to empty values instead of failing.

`StudentAdapter` is a `dspy.ChatAdapter` subclass (BootstrapFinetune infers its chat data format only from
ChatAdapters) with the JSON fallback off. It routes by LM class: `StudentLM`s (and `ServedStudentLM`s, the
exported student behind a serving engine) get the flat student prompt, every other LM (the teacher) the
normal ChatAdapter, so it can be the one global adapter: `dspy.configure(adapter=StudentAdapter())`.

Deliberate simplifications: demos are not shown to the student (it learns the task from training data, and
its input length is small); list-valued inputs (passages) are joined one per line; output values are parsed
with DSPy's `parse_value`, so non-string outputs must be written the way Python/JSON writes them.
"""

from __future__ import annotations

import re
from typing import Any

import dspy
from dspy.adapters.utils import parse_value
from dspy.utils.exceptions import AdapterParseError

from finetune.lm import StudentLM
from finetune.served import ServedStudentLM

SEED_PREFIX = "answer the question based on the context:"


def _format_value(value: Any) -> str:
    """A field value as one string: lists one item per line, everything else with str()."""
    if isinstance(value, list | tuple):
        return "\n".join(str(item) for item in value)
    return "" if value is None else str(value)


def _is_answer_signature(signature: type[dspy.Signature]) -> bool:
    return set(signature.input_fields) == {"question", "context"} and list(signature.output_fields) == ["answer"]


def format_prompt(signature: type[dspy.Signature], inputs: dict[str, Any]) -> str:
    """The student prompt for `signature` with `inputs`."""
    if _is_answer_signature(signature):
        question, context = _format_value(inputs.get("question")), _format_value(inputs.get("context"))
        return f"{SEED_PREFIX} question: {question} context: {context}"
    prefix = f"{', '.join(signature.output_fields)} from {', '.join(signature.input_fields)}:"
    fields = [f"{name}: {_format_value(inputs.get(name))}" for name in signature.input_fields if name in inputs]
    return " ".join([prefix, *fields])


def format_completion(signature: type[dspy.Signature], outputs: dict[str, Any]) -> str:
    """The completion the student learns: the value of a single output, `field: value` segments otherwise."""
    names = list(signature.output_fields)
    if len(names) == 1:
        return _format_value(outputs.get(names[0]))
    return " ".join(f"{name}: {_format_value(outputs.get(name))}" for name in names)


def parse_completion(signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
    """Output fields from a completion; absent fields become empty strings (None for non-string fields)."""
    names = list(signature.output_fields)
    completion = (completion or "").strip()
    if len(names) == 1:
        raw = {names[0]: completion}
    else:
        markers = [re.search(rf"(?:^|\s){re.escape(name)}:\s*", completion) for name in names]
        found = sorted((m.start(), m.end(), name) for m, name in zip(markers, names, strict=True) if m)
        ends = [start for start, _, _ in found[1:]] + [len(completion)]
        raw = {name: completion[end:stop].strip() for (_, end, name), stop in zip(found, ends, strict=True)}
    fields = {}
    for name in names:
        annotation = signature.output_fields[name].annotation
        value = raw.get(name, "")
        if value == "":
            fields[name] = "" if annotation is str else None
            continue
        try:
            fields[name] = parse_value(value, annotation)
        except ValueError as err:
            raise AdapterParseError(
                adapter_name="StudentAdapter", signature=signature, lm_response=completion, message=str(err)
            ) from None
    return fields


def prompt_templates() -> dict[str, Any]:
    """The student's prompt and completion formats as templates with `{field}` placeholders, written by the
    formatters above (so they cannot drift from them): what serving the student outside DSPy must reproduce."""
    answer = dspy.Signature("context: list[str], question: str -> answer: str")
    other = dspy.Signature("context: list[str], question: str -> query: str")
    several = dspy.Signature("question: str -> title: str, year: str")

    def placeholders(fields: dict) -> dict[str, str]:
        return {name: f"{{{name}}}" for name in fields}

    return {
        "answer_step": {
            "when": "the signature's inputs are exactly question and context and its one output is answer",
            "prompt": format_prompt(answer, placeholders(answer.input_fields)),
            "completion": format_completion(answer, placeholders(answer.output_fields)),
        },
        "other_steps": {
            "when": "any other signature: '<outputs> from <inputs>:' then '<field>: <value>' per input, in order",
            "example_signature": "context, question -> query",
            "prompt": format_prompt(other, placeholders(other.input_fields)),
            "completion": format_completion(other, placeholders(other.output_fields)),
        },
        "several_outputs_completion": format_completion(several, placeholders(several.output_fields)),
        "list_values": "a list input (the passages) is written one item per line; None is written as nothing",
    }


class StudentAdapter(dspy.ChatAdapter):
    """Student prompts for `StudentLM`s, the normal ChatAdapter for every other LM (see the module docstring)."""

    def __init__(self, teacher_adapter: dspy.Adapter | None = None, **kwargs):
        super().__init__(use_json_adapter_fallback=False, **kwargs)
        self.teacher_adapter = teacher_adapter or dspy.ChatAdapter(use_json_adapter_fallback=False)
        """What non-student LMs get; by default ChatAdapter without the JSON retry (weak teachers answer it
        with nonsense that happens to parse, see shared notes on the offline teacher)."""

    def __call__(self, lm, lm_kwargs, signature, demos, inputs):
        if not isinstance(lm, StudentLM | ServedStudentLM):
            return self.teacher_adapter(lm, lm_kwargs, signature, demos, inputs)
        return super().__call__(lm, lm_kwargs, signature, demos, inputs)

    async def acall(self, lm, lm_kwargs, signature, demos, inputs):
        if not isinstance(lm, StudentLM | ServedStudentLM):
            return await self.teacher_adapter.acall(lm, lm_kwargs, signature, demos, inputs)
        return await super().acall(lm, lm_kwargs, signature, demos, inputs)

    def format(self, signature, demos, inputs):
        """One user message holding the student prompt (demos are not shown)."""
        return [{"role": "user", "content": format_prompt(signature, inputs)}]

    def parse(self, signature, completion):
        """Output fields from the student's completion."""
        return parse_completion(signature, completion)

    def format_finetune_data(self, signature, demos, inputs, outputs):
        """A chat-format training record: the student prompt and the completion to learn."""
        messages = self.format(signature, demos, inputs)
        return {"messages": [*messages, {"role": "assistant", "content": format_completion(signature, outputs)}]}

    def _call_postprocess(self, processed_signature, original_signature, outputs, lm, lm_kwargs):
        """Parse every completion, empty ones included (DSPy would raise on an empty response)."""
        texts = [output.get("text") if isinstance(output, dict) else output for output in outputs]
        return [self.parse(original_signature, text or "") for text in texts]
