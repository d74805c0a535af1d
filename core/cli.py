"""What ragdistill's CLIs share: one click option per field of a config dataclass, documented by its docstring.

As in litgpt, a config is a `@dataclass` whose every field has a one-line docstring under it; the CLI is
generated from it, so `--help` documents every knob and the two never drift apart. Booleans become
`--flag/--no-flag`, tuples comma-separated strings (the command splits them), `X | None` an optional `X`.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing

import click


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    docs = {}
    for node, following in zip(body, body[1:], strict=False):
        is_doc = isinstance(following, ast.Expr) and isinstance(getattr(following, "value", None), ast.Constant)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and is_doc:
            docs[node.target.id] = " ".join(str(following.value.value).split())
    return docs


def dataclass_options(cls: type):
    """A decorator adding one click option per field of the dataclass `cls`."""

    def decorate(func):
        docs = field_docs(cls)
        hints = typing.get_type_hints(cls)
        for spec in reversed(dataclasses.fields(cls)):
            kind = hints[spec.name]
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            base = args[0] if args and typing.get_origin(kind) is not tuple else kind
            flag = "--" + spec.name.replace("_", "-")
            if base is bool:
                option = click.option(
                    f"{flag}/--no-{flag[2:]}", default=spec.default, show_default=True, help=docs[spec.name]
                )
            elif typing.get_origin(base) is tuple:
                option = click.option(flag, default=None, help=docs[spec.name] + " (comma-separated)")
            else:
                option = click.option(flag, type=base, default=spec.default, show_default=True, help=docs[spec.name])
            func = option(func)
        return func

    return decorate
