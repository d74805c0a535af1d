"""What ragdistill's CLIs share: one click option per field of a config dataclass, documented by its docstring.

As in litgpt, a config is a `@dataclass` whose every field has a one-line docstring under it; the CLI is
generated from it, so `--help` documents every knob and the two never drift apart. Booleans become
`--flag/--no-flag`, tuples comma-separated strings (the command splits them), `X | None` an optional `X`,
and `Literal[...]` a choice: `--help` lists the values, and `check_choices` (called by the config's
`__post_init__`) turns a wrong one into the usual one-line `error:` (click's own choice errors print usage).
`config_arguments` goes the other way: the options that give a command the settings of a config it already
holds (a program handing its settings to another process).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing

import click

from core.errors import RagdistillError


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (and of the dataclasses it extends), read from the source."""
    docs = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):
        body = ast.parse(inspect.getsource(klass)).body[0].body
        for node, following in zip(body, body[1:], strict=False):
            is_doc = isinstance(following, ast.Expr) and isinstance(getattr(following, "value", None), ast.Constant)
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and is_doc:
                docs[node.target.id] = " ".join(str(following.value.value).split())
    return docs


def _base_type(kind: object) -> object:
    """`X` for `X | None`; the type itself otherwise."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if args and typing.get_origin(kind) not in (tuple, typing.Literal) else kind


def check_choices(config: object) -> None:
    """A one-line `RagdistillError` for any `Literal[...]` field of the dataclass `config` holding another value."""
    hints = typing.get_type_hints(type(config))
    for spec in dataclasses.fields(config):
        base, value = _base_type(hints[spec.name]), getattr(config, spec.name)
        if typing.get_origin(base) is typing.Literal and value is not None and value not in typing.get_args(base):
            choices = ", ".join(str(choice) for choice in typing.get_args(base))
            raise RagdistillError(f"unknown {spec.name.replace('_', ' ')} {value!r}: choose one of {choices}")


def dataclass_options(cls: type):
    """A decorator adding one click option per field of the dataclass `cls`."""

    def decorate(func):
        docs = field_docs(cls)
        hints = typing.get_type_hints(cls)
        for spec in reversed(dataclasses.fields(cls)):
            base = _base_type(hints[spec.name])
            flag = "--" + spec.name.replace("_", "-")
            default = None if spec.default is dataclasses.MISSING else spec.default
            if base is bool:
                option = click.option(
                    f"{flag}/--no-{flag[2:]}", default=default, show_default=True, help=docs[spec.name]
                )
            elif typing.get_origin(base) is tuple:
                option = click.option(flag, default=None, help=docs[spec.name] + " (comma-separated)")
            elif typing.get_origin(base) is typing.Literal:
                choices = typing.get_args(base)
                metavar = "[" + "|".join(str(choice) for choice in choices) + "]"
                option = click.option(
                    flag,
                    type=type(choices[0]),
                    default=default,
                    show_default=True,
                    metavar=metavar,
                    help=docs[spec.name],
                )
            else:
                option = click.option(flag, type=base, default=default, show_default=True, help=docs[spec.name])
            func = option(func)
        return func

    return decorate


def config_arguments(config: object) -> list[str]:
    """The command-line options (as `dataclass_options` makes them) that set every field of `config` not None."""
    arguments = []
    for spec in dataclasses.fields(config):
        value, flag = getattr(config, spec.name), "--" + spec.name.replace("_", "-")
        if isinstance(value, bool):
            arguments.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, tuple):
            arguments += [flag, ",".join(str(item) for item in value)]
        elif value is not None:
            arguments += [flag, str(value)]
    return arguments
