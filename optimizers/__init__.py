"""Optimizers by name: `make_optimizer("bootstrap", metric, max_bootstrapped_demos=2)`.

Every optimizer follows DSPy's contract: built as `Optimizer(metric, **settings)`, used as
`optimizer.compile(student, *, trainset, teacher=None, valset=None)`, which returns a new program.
Modules are imported only when their optimizer is asked for, so choosing "fewshot" never loads the
fine-tuning stack that "distill" needs.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from core.errors import ConfigError
from optimizers.metrics import Metric

OPTIMIZERS: dict[str, str] = {
    "none": "optimizers.fewshot:ZeroShot",
    "fewshot": "optimizers.fewshot:FewShot",
    "bootstrap": "optimizers.bootstrap:Bootstrap",
    "random_search": "optimizers.random_search:RandomSearch",
    "mipro": "optimizers.mipro:MIPRO",
    "distill": "optimizers.distill:Distill",
}
"""Optimizer name -> `module:Class` implementing it."""
STUDENT_OPTIMIZERS = ("distill",)
"""Optimizers that train the student LM; every other one compiles the program under the teacher LM."""
TEACHER_OPTIMIZERS = tuple(name for name in OPTIMIZERS if name not in STUDENT_OPTIMIZERS)


def make_optimizer(name: str, metric: Metric | None = None, **settings: Any) -> Any:
    """The optimizer called `name`, built with `metric` and its `settings`.

    Args:
        name: a key of `OPTIMIZERS` ("bootstrap", "mipro", "distill", ...).
        metric: the metric the optimizer filters and scores with.
        **settings: the optimizer's own fields (see its dataclass).

    Returns:
        The optimizer, ready for `compile`.

    Raises:
        ConfigError: the name is unknown or the optimizer does not accept these settings.
    """
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    module_name, class_name = OPTIMIZERS[name].split(":")
    optimizer_class = getattr(importlib.import_module(module_name), class_name)
    try:
        inspect.signature(optimizer_class).bind(metric, **settings)
    except TypeError as err:
        raise ConfigError(f"optimizer {name!r} does not accept these settings ({err})") from None
    return optimizer_class(metric, **settings)
