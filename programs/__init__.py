"""DSPy programs (`signatures`, `rag`) and the public API: `from programs import load_program`.

Rooms: `programs.compile` (the pipeline and the run directory), `programs.evaluate` (evaluation and the
report), `programs.serve` (the HTTP QA service). `load_program`, `CompiledProgram` and `CompiledQA` (`programs.api`) are
imported on first use, so importing a sub-package never loads the API's dependencies.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CompiledProgram", "CompiledQA", "load_program"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from programs import api

        return getattr(api, name)
    raise AttributeError(f"module 'programs' has no attribute {name!r}")
