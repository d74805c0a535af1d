"""Objects named by `module:attribute` specs, the way users name their own programs, metrics and teachers.

`import_object("my_pkg.my_module:build", what="program")` imports `my_pkg.my_module` (the working directory
is importable, as for `python -m`) and returns its attribute `build` (dotted for nested ones, `Class.method`).
Every way it can fail is one `ProgramError` line naming the spec.

Simplified: specs name importable modules only (no file paths); nothing is reloaded when a module changes.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from core.errors import ProgramError, first_line

SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
"""What a `module:attribute` spec looks like (a LiteLLM model string has a `/` instead)."""


def is_object_spec(text: str) -> bool:
    """Whether `text` is a `module:attribute` spec."""
    return bool(SPEC.match(text))


def import_object(spec: str, what: str) -> Any:
    """The object a `module:attribute` spec names.

    Args:
        spec: `module:attribute`, e.g. `my_pkg.my_module:build`.
        what: what the object is for, quoted in errors ("program", "metric", "teacher").

    Returns:
        The attribute.

    Raises:
        ProgramError: a malformed spec, a module that cannot be imported, or no such attribute.
    """
    if not is_object_spec(spec):
        raise ProgramError(f"{what} {spec!r} is not a module:attribute spec (e.g. my_pkg.my_module:build)")
    module_name, attribute = spec.split(":")
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ProgramError(f"{what} {spec!r}: cannot import {module_name} ({first_line(err)})") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ProgramError(f"{what} {spec!r}: {module_name} has no attribute {attribute!r}")
        found = getattr(found, part)
    return found
