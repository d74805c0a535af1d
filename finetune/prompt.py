"""The student's prompt and completion format, and its one owner: training and serving both call this module.

A predictor call becomes a `StudentPrompt` (`build_prompt`): a fixed head and the input fields in signature
order. Two styles:
- the bundled answer step (inputs `question` and `context`, output `answer`) keeps the seed format
  `answer the question based on the context: question: <question> context: <passages>`;
- every other signature gets `task: <predictor name>` and `instructions: <signature instructions>` lines, then
  one `<field>: <value>` line per input, so several predictors with the same field names stay apart inside one
  multitask student.
Values are written as text when they are strings, one item per line when they are lists of strings (passages),
and as JSON otherwise (numbers, bools, lists, dicts, pydantic models, enums).

`StudentPrompt.render(budget)` joins it into the text the student reads. With a `PromptBudget` (the student's
tokenizer and its `max_input_tokens`) a prompt that is too long is cut inside its longest field, list fields
(passages) first, at the field's end: the head and the other fields stay whole. Training renders each
record with the base model's tokenizer and the training budget (`finetune.provider`); serving renders with the
same tokenizer and the budget recorded in `student.json` (`finetune.adapter`), so a served prompt is
byte-identical to the trained one. `render_for_model` then puts the text inside a causal model's chat template.

The completion the student learns (`format_completion`) is the value itself for a single output field, and
one `<field>: <value>` line per field otherwise (`ChainOfThought`'s `reasoning` first, like any other output).
Non-string outputs are written as JSON and read back with DSPy's own `parse_value` (`parse_completion`). A
choice-valued output (`Literal`, `Enum`, `bool`: `choices`) whose text is not one of its values is reported
in `Completion.invalid` with the completion text before it, so the caller can score the allowed values with
the student instead of failing (`finetune.adapter`).

Deliberate simplifications: demos are never shown to the student (it learns the task from its training data);
a field marker is recognised only at the start of a line, in signature order; `Optional`/union outputs are
parsed as JSON like any other non-string type (only plain `Literal`, `Enum` and `bool` count as choices).
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

import dspy
from dspy.adapters.utils import parse_value, serialize_for_json
from dspy.utils.exceptions import AdapterParseError

from core.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

SEED_PREFIX = "answer the question based on the context:"
"""The bundled answer step's prompt head (the seed format)."""
ANSWER_INPUTS, ANSWER_OUTPUTS = {"question", "context"}, ["answer"]


@dataclass(frozen=True)
class PromptField:
    """One input field as the student reads it."""

    name: str
    """The field's name, written before its value."""
    text: str
    """The value as text (see the module docstring)."""
    is_list: bool = False
    """A list written one item per line (passages): cut first when the prompt is over its budget."""


class PromptBudget:
    """A student's tokenizer and prompt length cap, in tokens."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_tokens: int):
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens

    def count(self, text: str) -> int:
        """Tokens of `text` (no special tokens)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def keep(self, text: str, tokens: int) -> str:
        """The first `tokens` tokens of `text`, as text."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= tokens else self.tokenizer.decode(ids[: max(tokens, 0)])


@dataclass(frozen=True)
class StudentPrompt:
    """A student prompt before rendering: a head that is never cut (the seed prefix, or the task and instructions
    lines), then the input fields in order."""

    fields: tuple[PromptField, ...]
    """The input fields, in signature order."""
    instructions: str = ""
    """The signature's instructions (not shown in the seed format)."""
    task: str | None = None
    """The calling predictor's name in its program; None for a bare predictor or a student trained without names."""
    named: bool = True
    """Whether `task` is known (False: a training record whose predictor could not be told, see `finetune.adapter`)."""
    seed: bool = False
    """The seed format (`<prefix> <field>: <value> ...` on one line) rather than one line per part."""

    @property
    def head(self) -> str:
        """What comes before the fields."""
        if self.seed:
            return SEED_PREFIX
        lines = [f"task: {self.task}"] if self.task else []
        return "\n".join(lines + ([f"instructions: {self.instructions}"] if self.instructions else []))

    def _join(self, texts: list[str]) -> str:
        parts = [f"{field.name}: {text}" for field, text in zip(self.fields, texts, strict=True)]
        if self.seed:
            return " ".join([self.head, *parts])
        return "\n".join([self.head, *parts] if self.head else parts)

    def render(self, budget: PromptBudget | None = None) -> str:
        """The prompt text; with a budget, cut inside its longest fields (lists first) until it fits."""
        texts = [field.text for field in self.fields]
        if budget is None:
            return self._join(texts)
        by_priority = sorted(range(len(texts)), key=lambda i: (not self.fields[i].is_list, -len(texts[i])))
        for index in by_priority:
            over = budget.count(self._join(texts)) - budget.max_tokens
            if over <= 0:
                break
            texts[index] = budget.keep(texts[index], budget.count(texts[index]) - over).rstrip()
        return self._join(texts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (training records carry it to the trainer)."""
        fields = [[f.name, f.text, f.is_list] for f in self.fields]
        return {"fields": fields, "instructions": self.instructions, "task": self.task, "named": self.named,
                "seed": self.seed}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudentPrompt:
        """The prompt `to_dict` described."""
        fields = tuple(PromptField(str(name), str(text), bool(is_list)) for name, text, is_list in data["fields"])
        task = data.get("task")
        return cls(fields, str(data.get("instructions") or ""), None if task is None else str(task),
                   bool(data.get("named", True)), bool(data.get("seed", False)))  # fmt: skip


def is_answer_signature(signature: type[dspy.Signature]) -> bool:
    """Whether `signature` is the bundled answer step (seed format)."""
    return set(signature.input_fields) == ANSWER_INPUTS and list(signature.output_fields) == ANSWER_OUTPUTS


def value_text(value: Any) -> str:
    """A value as the student reads or writes it: strings as they are, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, enum.Enum) and isinstance(value.value, str):
        return value.value
    return json.dumps(serialize_for_json(value), ensure_ascii=False)


def _input_field(name: str, value: Any) -> PromptField:
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return PromptField(name, "\n".join(value), is_list=True)
    return PromptField(name, value_text(value))


def build_prompt(
    signature: type[dspy.Signature], inputs: dict[str, Any], task: str | None = None, *, named: bool = True
) -> StudentPrompt:
    """The student prompt of a call of `signature` with `inputs`, made by the predictor named `task`.

    Args:
        signature: the predictor's signature.
        inputs: the call's input values by field name (absent fields are left out).
        task: the predictor's name in its program (`program.named_predictors()`); None for a bare predictor.
        named: False when the predictor could not be told (its prompt then carries no name).

    Returns:
        The prompt, seed-format for the bundled answer step.
    """
    fields = tuple(_input_field(name, inputs[name]) for name in signature.input_fields if name in inputs)
    if is_answer_signature(signature):
        by_name = {field.name: field for field in fields}
        ordered = tuple(by_name[name] for name in ("question", "context") if name in by_name)
        return StudentPrompt(ordered, seed=True)
    instructions = " ".join(str(signature.instructions or "").split())
    return StudentPrompt(fields, instructions, task if named else None, named)


def format_prompt(
    signature: type[dspy.Signature], inputs: dict[str, Any], task: str | None = None, budget: PromptBudget | None = None
) -> str:
    """`build_prompt(...)` rendered (within `budget` when given): the prompt text as the student reads it."""
    return build_prompt(signature, inputs, task).render(budget)


def messages_prompt(messages: list[dict[str, str]]) -> str:
    """The student prompt a chat request holds: its system and user turns, joined by blank lines."""
    return "\n\n".join(m["content"] for m in messages if m.get("role") in ("system", "user") and m.get("content"))


FOREIGN_PROMPT = (
    "a student answers only prompts written by finetune.StudentAdapter, and this call came through another "
    "adapter: dspy.configure(adapter=StudentAdapter()) (from finetune import StudentAdapter)"
)


FOREIGN_RECORDS = (
    "a student trains only on records written by finetune.StudentAdapter, and these came through another adapter: "
    "dspy.BootstrapFinetune(..., adapter=StudentAdapter()) or dspy.configure(adapter=StudentAdapter()) "
    "(from finetune import StudentAdapter)"
)


def check_student_messages(messages: list[dict[str, Any]] | None, error: str = FOREIGN_PROMPT) -> None:
    """Refuse chat messages no `StudentAdapter` wrote: it sends one user message, while DSPy's Chat, JSON and XML
    adapters always open with a system message (and demos add more turns).

    Raises:
        ConfigError: the messages came through another adapter (`error`, which names the fix).
    """
    if messages and (len(messages) != 1 or messages[0].get("role") != "user"):
        raise ConfigError(error)


class StudentMessagesOnly:
    """Mixin for a `dspy.LM` that reads student prompts only: messages from another adapter are refused up front
    (`check_student_messages`), with one clear error instead of a nonsense answer. List it before `dspy.LM`."""

    def __call__(self, prompt=None, *, messages=None, **kwargs):
        check_student_messages(messages)
        return super().__call__(prompt, messages=messages, **kwargs)

    async def acall(self, prompt=None, *, messages=None, **kwargs):
        check_student_messages(messages)
        return await super().acall(prompt, messages=messages, **kwargs)


def render_for_model(tokenizer: PreTrainedTokenizerBase, family: str, prompt: str, max_input_tokens: int) -> str:
    """The text the model reads: the prompt (cut at its end if still over `max_input_tokens`, a safety net behind
    `StudentPrompt.render`'s budget), inside the chat template for causal models that have one."""
    ids = tokenizer(prompt, add_special_tokens=False, truncation=True, max_length=max_input_tokens)["input_ids"]
    if len(ids) == max_input_tokens:
        prompt = tokenizer.decode(ids)
    if family == "seq2seq" or not tokenizer.chat_template:
        return prompt
    messages = [{"role": "user", "content": prompt}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def choices(annotation: Any) -> list[tuple[str, Any]] | None:
    """The allowed values of a choice-valued output type as (text, value) pairs; None for any other type."""
    if annotation is bool:
        return [("true", True), ("false", False)]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [(value_text(member), member) for member in annotation]
    if get_origin(annotation) is Literal:
        return [(value_text(value), value) for value in get_args(annotation)]
    return None


def format_completion(signature: type[dspy.Signature], outputs: dict[str, Any]) -> str:
    """The completion the student learns: the value of a single output, one `field: value` line per output else."""
    names = list(signature.output_fields)
    if len(names) == 1:
        return value_text(outputs.get(names[0]))
    return "\n".join(f"{name}: {value_text(outputs.get(name))}" for name in names)


@dataclass
class Completion:
    """Output values read from a completion, and the choice fields whose text was not an allowed value."""

    values: dict[str, Any]
    """Parsed values by field name (invalid choice fields hold None)."""
    invalid: dict[str, str]
    """Choice field name -> the completion text before its value (what the student wrote up to it)."""


def _segments(names: list[str], completion: str) -> dict[str, tuple[int, int, str]]:
    """Each output field's (marker start, value start, raw text) in a multi-field completion; absent fields are
    left out."""
    found, position = [], 0
    for name in names:
        marker = re.compile(rf"(?:^|\n){re.escape(name)}:[ \t]*").search(completion, position)
        if marker:
            found.append((name, marker.start(), marker.end()))
            position = marker.end()
    ends = [start for _, start, _ in found[1:]] + [len(completion)] * bool(found)
    return {
        name: (start, end, completion[end:stop].strip()) for (name, start, end), stop in zip(found, ends, strict=True)
    }


def _missing_prefix(names: list[str], name: str, completion: str, segments: dict[str, tuple[int, int, str]]) -> str:
    """Where an absent field's value would start: after the fields before it and its own marker."""
    if len(names) == 1:
        return ""
    later = [segments[n][0] for n in names[names.index(name) + 1 :] if n in segments]
    before = completion[: later[0]] if later else completion
    return (before.rstrip("\n") + "\n" if before.strip() else "") + f"{name}: "


def _choice(text: str, allowed: list[tuple[str, Any]]) -> tuple[bool, Any]:
    """(found, value) of `text` among the allowed values (exact, or JSON-quoted)."""
    stripped = text.strip()
    for candidate in (stripped, stripped.strip("\"'")):
        for allowed_text, value in allowed:
            if candidate == allowed_text:
                return True, value
    return False, None


def parse_completion(signature: type[dspy.Signature], completion: str) -> Completion:
    """Output values from a completion (see the module docstring).

    Args:
        signature: the predictor's signature.
        completion: what the student wrote.

    Returns:
        The values; an absent or empty string field is "".

    Raises:
        AdapterParseError: a non-string, non-choice value that is absent or not valid for its type.
    """
    names = list(signature.output_fields)
    completion = (completion or "").strip()
    segments = {names[0]: (0, 0, completion)} if len(names) == 1 else _segments(names, completion)
    values, invalid = {}, {}
    for name in names:
        annotation = signature.output_fields[name].annotation
        _, start, text = segments.get(name, (None, None, ""))
        allowed = choices(annotation)
        if allowed is not None:
            found, values[name] = _choice(text, allowed)
            if not found:
                prefix = completion[:start] if start is not None else _missing_prefix(names, name, completion, segments)
                invalid[name] = prefix
        elif text == "" and annotation is str:
            values[name] = ""
        else:
            try:
                values[name] = parse_value(text, annotation)
            except (ValueError, TypeError) as err:  # pydantic's ValidationError is a ValueError
                message = f"field {name!r}: {str(err).splitlines()[0]}"
                raise AdapterParseError("StudentAdapter", signature, completion, message=message) from None
    return Completion(values, invalid)


def choice_continuations(
    names: list[str], name: str, prefix: str, allowed: list[tuple[str, Any]]
) -> tuple[list[str], bool]:
    """The completions to score for a choice field: the text before it and each allowed value, then what follows
    a value in training: the next field's marker, or the end of the completion (the returned flag: score the
    end-of-sequence token too)."""
    following = names[names.index(name) + 1 :]
    end = f"\n{following[0]}:" if following else ""
    return [prefix + text + end for text, _ in allowed], not following


def prompt_templates() -> dict[str, Any]:
    """The student's prompt and completion formats as templates with `{field}` placeholders, written by the
    formatters above (so they cannot drift from them): what serving the student outside DSPy must reproduce."""

    class Example(dspy.Signature):
        """Instructions of the signature."""

        context: list[str] = dspy.InputField()
        question: str = dspy.InputField()
        query: str = dspy.OutputField()

    answer = dspy.Signature("context: list[str], question: str -> answer: str")
    several = dspy.Signature("question: str -> title: str, year: int")

    def placeholders(fields: dict) -> dict[str, str]:
        return {name: f"{{{name}}}" for name in fields}

    return {
        "answer_step": {
            "when": "the signature's inputs are exactly question and context and its one output is answer",
            "prompt": build_prompt(answer, placeholders(answer.input_fields)).render(),
            "completion": format_completion(answer, placeholders(answer.output_fields)),
        },
        "other_steps": {
            "when": "any other signature: task and instructions lines, then '<field>: <value>' per input, in order",
            "example_predictor": "generate_query[0]",
            "prompt": build_prompt(Example, placeholders(Example.input_fields), task="generate_query[0]").render(),
            "completion": format_completion(Example, placeholders(Example.output_fields)),
        },
        "several_outputs_completion": format_completion(several, placeholders(several.output_fields)),
        "values": "strings as they are; a list of strings one item per line; anything else as JSON",
        "budget": "a prompt over max_input_tokens is cut inside its longest field, list fields first, at the end",
    }
