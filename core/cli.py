"""What ragdistill's CLIs share: one click option per field of a config dataclass, documented by its docstring.

As in litgpt, a config is a `@dataclass` whose every field has a one-line docstring under it; the CLI is
generated from it, so `--help` documents every knob and the two never drift apart. Booleans become
`--flag/--no-flag`, tuples comma-separated strings (the command splits them), `X | None` an optional `X`,
and `Literal[...]` a choice: `--help` lists the values, and `check_choices` (called by the config's
`__post_init__`) turns a wrong one into the usual one-line `error:` (click's own choice errors print usage).
A field whose type is itself a config dataclass is nested: its fields become options of their own, under their
own names (`CompileConfig.training`'s `epochs` is `--epochs`), with the defaults of the outer field's default
instance (so an outer config can change a nested default, and `--help` shows the one in force), except the
fields the outer field's `metadata[NOT_OPTIONS]` names (the outer config sets them from an option of its own).
`build_config` turns the options a command received back into the nested config. Two fields of one command
with the same name are refused when the options are generated.
`config_command` is the usual stack in one decorator: a click command with `-h/--help`, the config's options, and
`core.errors.exit_cleanly_on_error` around the function.
`config_arguments` goes the other way: the options that give a command the settings of a config it already
holds (a program handing its settings to another process); it handles flat configs only.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing

import click

from core.errors import ConfigError, exit_cleanly_on_error

NOT_OPTIONS = "not_options"
"""Key of a nested config field's `metadata`: the names of the nested fields that are no options (the outer config
sets them)."""


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
    """A one-line `ConfigError` for any `Literal[...]` field of the dataclass `config` holding another value."""
    hints = typing.get_type_hints(type(config))
    for spec in dataclasses.fields(config):
        base, value = _base_type(hints[spec.name]), getattr(config, spec.name)
        if typing.get_origin(base) is typing.Literal and value is not None and value not in typing.get_args(base):
            choices = ", ".join(str(choice) for choice in typing.get_args(base))
            raise ConfigError(f"unknown {spec.name.replace('_', ' ')} {value!r}: choose one of {choices}")


@dataclasses.dataclass(frozen=True)
class OptionField:
    """One command-line option generated from a dataclass field."""

    name: str
    """The field's name (the option is `--name` with `-` for `_`)."""
    kind: object
    """The field's type, without `| None`."""
    default: object
    """The value when the option is not given (None for a field without a default)."""
    doc: str
    """The field's docstring: the option's help."""


def _default(spec: dataclasses.Field, outer: object) -> object:
    """A field's default: its value in the outer field's default instance `outer`, else its own default."""
    if outer is not None:
        return getattr(outer, spec.name)
    if spec.default is not dataclasses.MISSING:
        return spec.default
    return spec.default_factory() if spec.default_factory is not dataclasses.MISSING else None


def option_fields(cls: type, outer: object = None) -> list[OptionField]:
    """The options of the dataclass `cls`: one per field, a nested config's fields in place of the nested field.

    Args:
        cls: a config dataclass whose every field has a docstring.
        outer: the default instance of `cls` when `cls` is nested in another config (its values are the defaults).

    Returns:
        The options in field order.

    Raises:
        ConfigError: two fields (nested ones included) share a name, so they would share an option.
    """
    docs, hints, options = field_docs(cls), typing.get_type_hints(cls), []
    for spec in dataclasses.fields(cls):
        kind, default = _base_type(hints[spec.name]), _default(spec, outer)
        if dataclasses.is_dataclass(kind):
            hidden = spec.metadata.get(NOT_OPTIONS, ())
            options += [option for option in option_fields(kind, default) if option.name not in hidden]
        else:
            options.append(OptionField(spec.name, kind, default, docs[spec.name]))
    names = [option.name for option in options]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{cls.__name__} has several fields named {', '.join(repeated)}: they would share an option")
    return options


def _click_option(option: OptionField):
    """The click option of one field."""
    flag = "--" + option.name.replace("_", "-")
    if option.kind is bool:
        return click.option(f"{flag}/--no-{flag[2:]}", default=option.default, show_default=True, help=option.doc)
    if typing.get_origin(option.kind) is tuple:
        return click.option(flag, default=None, help=option.doc + " (comma-separated)")
    if typing.get_origin(option.kind) is typing.Literal:
        choices = typing.get_args(option.kind)
        metavar = "[" + "|".join(str(choice) for choice in choices) + "]"
        return click.option(
            flag, type=type(choices[0]), default=option.default, show_default=True, metavar=metavar, help=option.doc
        )
    return click.option(flag, type=option.kind, default=option.default, show_default=True, help=option.doc)


def dataclass_options(cls: type):
    """A decorator adding one click option per field of the dataclass `cls` (nested configs' fields included).

    Args:
        cls: a config dataclass whose every field has a docstring.

    Returns:
        The decorator; the command receives the options as keyword arguments (`build_config` makes `cls` of them).

    Raises:
        ConfigError: two fields share a name (see `option_fields`).
    """

    options = option_fields(cls)

    def decorate(func):
        for option in reversed(options):
            func = _click_option(option)(func)
        return func

    return decorate


def config_command(cls: type, *, group: bool = False, **context_settings: object):
    """A decorator making a CLI of a function: a click command (`-h/--help`) with `cls`'s options, clean errors.

    Args:
        cls: the config dataclass whose fields become options (as `dataclass_options`).
        group: make a `click.Group` (with `invoke_without_command=True`) instead of a command.
        context_settings: more click context settings (e.g. `max_content_width`).

    Returns:
        The decorator; arguments and options declared below it are kept, and a `RagdistillError` raised by the
        function ends the command with one `error:` line and exit status 2.
    """
    settings = {"help_option_names": ["-h", "--help"], **context_settings}
    make = click.group(invoke_without_command=True, context_settings=settings) if group else None

    def decorate(func):
        func = exit_cleanly_on_error(func)
        declared = list(getattr(func, "__click_params__", []))
        func = dataclass_options(cls)(func)
        func.__click_params__ = func.__click_params__[len(declared) :] + declared  # --help: declared ones first
        return (make or click.command(context_settings=settings))(func)

    return decorate


def build_config(cls: type, options: dict[str, object], outer: object = None) -> object:
    """The dataclass `cls` from the option values a `dataclass_options` command received (or a subset of them).

    A nested config is its outer field's default instance with the given options replaced; a comma-separated
    string for a tuple field is split. Options not given keep their defaults.

    Args:
        cls: the config dataclass the options were generated from.
        options: option values by field name (`None` for a tuple option not given).
        outer: the default instance of `cls` when `cls` is nested (used by the recursion).

    Returns:
        The config, checked by its own `__post_init__`.
    """
    hints, values = typing.get_type_hints(cls), {}
    for spec in dataclasses.fields(cls):
        kind = _base_type(hints[spec.name])
        if dataclasses.is_dataclass(kind):
            hidden = spec.metadata.get(NOT_OPTIONS, ())
            given = {name: value for name, value in options.items() if name not in hidden}
            values[spec.name] = build_config(kind, given, _default(spec, outer))
        elif spec.name in options:
            value = options[spec.name]
            if typing.get_origin(kind) is tuple and isinstance(value, str):
                value = tuple(item.strip() for item in value.split(",") if item.strip())
            values[spec.name] = value
    return dataclasses.replace(outer, **values) if outer is not None else cls(**values)


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
