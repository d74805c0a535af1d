"""Distill: the real `dspy.BootstrapFinetune`, training a local student (`finetune.StudentLM`) on teacher traces.

`Distill(metric, student_lm=...).compile(student, trainset=..., teacher=...)` runs the teacher program on
the training set (DSPy's `bootstrap_trace_data`), chooses a target for each example, turns each predictor
call into a (student prompt, completion) pair with `finetune.StudentAdapter`, trains the student with
`finetune.StudentProvider` (LoRA by default) and returns the student program, whose predictors now call the
trained `StudentLM`. `trace_data` keeps the teacher's traces (`optimizers.traces` saves them); given back as
`compile(..., traces=...)` they replace running the teacher: BootstrapFinetune is handed an empty list of
teachers, so it calls none, and trains on the saved traces.

Who answers which training question: the teacher runs on the first `teacher_questions` (all when None);
every question also has a gold run (`optimizers.gold_runs`: the program re-run with each step answering its
gold target, searches only), used where the teacher's trace is not. Targets (`targets=`):
- "both" (default): the teacher's trace where it passes the metric, the gold run elsewhere;
- "traces": only teacher traces that pass the metric (classic BootstrapFinetune);
- "gold": only gold runs.
A gold target (`optimizers.targets`) is the example's label for the answer step and, when `passages` (the
corpus by pid) is given, a query derived from the example's supporting passages for a search-query step
(MultiHopRAG's `generate_query[i]`); a call without a gold target is left out of the gold run's data. With
"both", a trace that passes the metric keeps all of the teacher's outputs. `stats` records where the training
data came from, in total and per predictor (`steps`: for each predictor name, how many of its training records
came from teacher traces and how many from gold runs).

Three stock BootstrapFinetune behaviours are corrected in `_DistillFinetune._prepare_finetune_data`: a trace
that failed to parse scores -1, which is truthy, so it would pass the metric filter and crash formatting;
here any trace holding a `FailedPrediction` counts as failed. Zero usable examples raise a
`DataError` instead of training on nothing. And each record is named after the predictor that made the
call (`StudentAdapter.finetune_record(..., task=name)`), which DSPy's own loop cannot tell the adapter.

Deliberate simplifications: every predictor of the student is distilled into one multitask student LM
(DSPy's `multitask=True`); `valset` is accepted for the common `compile` contract but unused (the trainer
holds out its own validation slice, `val_fraction` in `train_kwargs`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import dspy
from dspy.clients.utils_finetune import TrainDataFormat
from dspy.teleprompt.bootstrap_trace import FailedPrediction

from core.errors import ConfigError, DataError
from data.loaders import Passage
from engine.models import DEFAULT_STUDENT
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from optimizers.base import Optimizer
from optimizers.gold_runs import gold_runs
from optimizers.targets import QueryTargets

Targets = Literal["both", "traces", "gold"]


def _passed(item: dict[str, Any]) -> bool:
    """Whether a teacher trace passed the metric and parsed at every step."""
    failed = isinstance(item["prediction"], FailedPrediction) or any(
        isinstance(outputs, FailedPrediction) for _, _, outputs in item["trace"]
    )
    return bool(item.get("score")) and not failed


class _DistillFinetune(dspy.BootstrapFinetune):
    """BootstrapFinetune choosing targets per example and refusing to train on nothing."""

    def __init__(
        self,
        *,
        targets: Targets,
        queries: QueryTargets | None,
        names: dict[int, str],
        replay: list[dict] | None,
        gold_program: dspy.Module,
        trainset: list[dspy.Example],
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.targets = targets
        self.queries = queries
        self.gold_program = gold_program
        """The program re-run for gold runs (the traced one: its predictors carry the names below)."""
        self.trainset = trainset
        """Every training question (the teacher answers a prefix of them)."""
        self.names = names
        """Predictor names by `id(predictor)` of the program whose traces are collected."""
        self.replay = replay
        self.trace_data: list[dict[str, Any]] = []
        self.stats: dict[str, Any] = {}

    def _count(self, steps: dict[str, dict[str, int]], trace: list[tuple], source: str) -> None:
        for predictor, _, _ in trace:
            name = self.names.get(id(predictor), predictor.signature.__name__)
            steps.setdefault(name, {"traces": 0, "gold": 0})[source] += 1

    def compile(self, student, trainset, teacher=None):
        # Saved traces to replay: no teacher to run (BootstrapFinetune collects nothing from an empty list).
        return super().compile(student, trainset, [] if self.replay is not None else teacher)

    def _prepare_finetune_data(self, trace_data: list[dict[str, Any]], lm: dspy.LM, pred_ind: int | None = None):
        trace_data = self.replay if self.replay is not None else trace_data
        self.trace_data = trace_data
        chosen, steps = [], {}
        if self.targets != "gold":
            chosen = [{**item, "score": True} for item in trace_data if _passed(item)]
        from_teacher = len(chosen)
        if self.targets != "traces":
            taken = {item["example_ind"] for item in chosen}
            todo = [(index, example) for index, example in enumerate(self.trainset) if index not in taken]
            chosen += gold_runs(self.gold_program, todo, self.queries)
        for number, item in enumerate(chosen):
            self._count(steps, item["trace"], "traces" if number < from_teacher else "gold")
        passed = sum(_passed(item) for item in trace_data)
        if not chosen:
            raise DataError(
                f"no training data for the student: {passed} of {len(trace_data)} teacher traces passed the metric "
                f"and targets='{self.targets}'" + ("" if self.targets == "traces" else " found no gold labels to use")
            )
        data = self._records(chosen, self.adapter[lm] or dspy.settings.adapter, pred_ind)
        self.stats = {
            "examples": len(self.trainset),
            "teacher_answered": len(trace_data),
            "passed_metric": passed,
            "from_teacher": from_teacher,
            "from_gold": len(chosen) - from_teacher,
            "skipped": len(self.trainset) - len(chosen),
            "train_records": len(data),
            "steps": steps,
        }
        return data, TrainDataFormat.CHAT

    def _records(self, chosen: list[dict[str, Any]], adapter: StudentAdapter, pred_ind: int | None) -> list[dict]:
        """One training record per predictor call of the chosen traces, named after its predictor (DSPy's own
        loop in `BootstrapFinetune._prepare_finetune_data`, with the name it cannot know), shuffled as DSPy does."""
        data = []
        for item in chosen:
            for index, (predictor, inputs, outputs) in enumerate(item["trace"]):
                if pred_ind is None or index == pred_ind:
                    name = self.names.get(id(predictor))
                    data.append(adapter.finetune_record(predictor.signature, inputs, outputs, task=name))
        random.Random(0).shuffle(data)
        return data


@dataclass
class Distill(Optimizer):
    """Distill a teacher program into a local student LM with `dspy.BootstrapFinetune` (see the module docstring)."""

    metric: Callable
    """Decides which teacher traces pass (called with a trace)."""
    student_lm: StudentLM | str = DEFAULT_STUDENT
    """The student: a `StudentLM`, or a base model spec to build one from."""
    targets: Targets = "both"
    """Where targets come from: `both`, `traces` (teacher outputs that pass the metric) or `gold`."""
    train_kwargs: dict[str, Any] = field(default_factory=dict)
    """`LoRATrainConfig` fields plus `output_dir`, handed to the trainer."""
    adapter: StudentAdapter | None = None
    """How prompts are formatted for the student; None: the configured one, wrapped if it is not a student's."""
    num_threads: int | None = None
    """Parallel teacher calls while tracing; None uses `dspy.settings.num_threads`."""
    passages: Mapping[str, Passage] | None = field(default=None, repr=False)
    """The corpus by pid, to derive gold search queries from supporting passages; None: no query targets."""
    teacher_questions: int | None = None
    """The teacher answers the first N training questions (None: all); the others get gold runs only."""
    stats: dict[str, Any] = field(default_factory=dict, init=False)
    """Where the training data came from (examples, teacher_answered, passed_metric, from_teacher, from_gold,
    skipped, records), and per predictor name (`steps`: {"traces": n, "gold": m})."""
    trace_data: list[dict[str, Any]] = field(default_factory=list, init=False)
    """The teacher traces the last `compile` trained on (`bootstrap_trace_data` items, see `optimizers.traces`)."""

    def __post_init__(self) -> None:
        if self.targets not in get_args(Targets):
            raise ConfigError(f"targets must be 'both', 'traces' or 'gold', not '{self.targets}'")
        if not isinstance(self.student_lm, StudentLM):
            self.student_lm = StudentLM.from_base(self.student_lm)
        self.train_kwargs = dict(self.train_kwargs or {})

    def _adapter(self) -> StudentAdapter:
        """The given adapter, else the configured one if a StudentAdapter, else one wrapping it for the teacher."""
        if self.adapter is not None:
            return self.adapter
        configured = dspy.settings.adapter
        return configured if isinstance(configured, StudentAdapter) else StudentAdapter(teacher_adapter=configured)

    def compile(
        self,
        student: dspy.Module,
        *,
        trainset: list[dspy.Example],
        teacher: dspy.Module | None = None,
        valset: list[dspy.Example] | None = None,
        traces: list[dict[str, Any]] | None = None,
    ) -> dspy.Module:
        """Train the student LM on `teacher`'s traces (the student program's own when None); return the new program.

        `traces`: saved traces of `trainset` (`optimizers.traces.replayable`) to train on instead; no teacher runs.
        """
        if not trainset:
            raise DataError("the training set is empty: nothing to distill")
        student = student.deepcopy()
        student.set_lm(self.student_lm)
        adapter = self._adapter()
        traced = teacher if teacher is not None else student
        optimizer = _DistillFinetune(
            targets=self.targets,
            queries=QueryTargets(self.passages) if self.passages is not None else None,
            names={id(predictor): name for name, predictor in traced.named_predictors()},
            replay=traces,
            gold_program=traced,
            trainset=trainset,
            metric=self.metric,
            train_kwargs=self.train_kwargs,
            adapter=adapter,
            exclude_demos=True,
            num_threads=self.num_threads,
        )
        asked = trainset[: self.teacher_questions] if self.teacher_questions is not None else trainset
        with dspy.context(adapter=adapter):
            compiled = optimizer.compile(student, trainset=asked, teacher=teacher)
        self.stats, self.trace_data = optimizer.stats, optimizer.trace_data
        return compiled
