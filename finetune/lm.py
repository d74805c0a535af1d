"""The trained student served as a DSPy LM: `StudentLM` (a named `dspy.LM`) running a `StudentEngine` in-process.

`StudentEngine` is an `engine.local.LocalEngine`: it loads the base model and, when there is one, the
trained directory on top of it — a peft adapter, merged into the weights, or a fully fine-tuned model —
once, on first use, onto the backend chosen by `backend`/`compute_type` (`engine.ct2.open_backend`; by
default CTranslate2 when installed, converted once into `<trained dir>/ct2` and reused while the adapter and
base hash the same; stock transformers otherwise). `generate(prompts)` answers many
prompts at once (greedy, or beam search with `num_beams`); DSPy's `complete(Request)` answers one request,
grouped with the requests that arrive at the same time (DSPy's threads, the QA service's workers) into one
batch of up to `batch_size`. Prompts are rendered for the model exactly as in training
(`finetune.prompt.render_for_model`); `prompt_budget()` gives the tokenizer and the trained `max_input_tokens`
the adapter fits a prompt into, and `score(prompt, continuations)` the student's log-probability of each
continuation (for choice-valued outputs). A call formatted by any adapter other than `finetune.StudentAdapter`
is refused by `StudentLM` with one line naming the fix (`finetune.prompt.check_student_messages`), instead of
answering a prompt the student was never trained on.

Saving: DSPy stores the engine's `dump_state()` in a saved program, and `StudentLM` always re-creates its
finetunable `StudentProvider`, so a reloaded program can be served and re-distilled. Loading a program that
holds a `StudentLM` needs `program.load(path, allow_unsafe_lm_state=True)` (DSPy imports the LM and engine
classes named in the file; load only files you trust). Relative adapter paths resolve against the engine's
`root`: call `anchor_students(program, run_dir)` before saving (paths inside `run_dir` become relative) and
after loading (they resolve there again), so a run directory can move.

Deliberate simplifications: sampling settings and `n` are ignored (decoding is
deterministic); DSPy's response cache is off by default because the weights behind a model id change when
a student is retrained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy
from dspy.lm15 import Request

from core.errors import ConfigError, ModelNotFoundError, RunFormatError, first_line
from engine.backends import Backend
from engine.ct2 import cached_conversion_dir, dir_fingerprint, file_digest, open_backend
from engine.local import LocalEngine, request_text
from engine.models import ResolvedModel, load_hf_model, resolve_model, save_model_dir
from finetune.config import LoRATrainConfig
from finetune.prompt import PromptBudget, StudentMessagesOnly, messages_prompt, render_for_model
from finetune.provider import MODEL_PREFIX, StudentProvider
from finetune.record import STUDENT_FILE, read_student_record, trained_kind

DEFAULT_MAX_INPUT_TOKENS = LoRATrainConfig.max_input_tokens
"""Prompt cap of a student whose record names none (an untrained base): the training default."""
DEFAULT_MAX_NEW_TOKENS = 32
"""Completion cap of a student whose record names none (an untrained base writes until its cap)."""

STUDENT_BACKEND = "auto"
"""The student's default backend: CTranslate2 when installed (measured in benchmarks/engine.py)."""
CT2_DIR = "ct2"
"""Where a trained dir keeps its CTranslate2 conversion."""


def _load_adapted(resolved: ResolvedModel, adapter_dir: Path, device: str | None):
    """Base model + the peft adapter in `adapter_dir`, merged into plain weights; errors name the adapter."""
    from peft import PeftModel

    model, tokenizer = load_hf_model(resolved, device=device)
    try:
        model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    except Exception as err:  # peft raises ValueError, OSError, KeyError, RuntimeError, SafetensorError...
        message = f"adapter {adapter_dir} cannot be loaded onto {resolved.spec}: {first_line(err)}"
        raise ModelNotFoundError(message) from None
    return model.eval(), tokenizer


@dataclass(frozen=True)
class StudentJob:
    """One raw student prompt and its token cap (None: the trained cap)."""

    prompt: str
    cap: int | None


class StudentEngine(LocalEngine):
    """A DSPy engine answering raw student prompts with a base model and an optional trained dir (`engine.local`)."""

    def __init__(
        self,
        base_model: str,
        adapter_dir: str | None = None,
        *,
        num_beams: int = 1,
        batch_size: int = 16,
        device: str | None = None,
        root: str | None = None,
        backend: str = STUDENT_BACKEND,
        compute_type: str = "auto",
    ):
        super().__init__(backend=backend, compute_type=compute_type, max_batch=batch_size)
        self.base_model = base_model
        self.adapter_dir = adapter_dir
        self.num_beams = num_beams
        self.batch_size = batch_size
        self.device = device
        self.root = root
        self.record: dict[str, Any] = {}
        self._budget: PromptBudget | None = None

    def settings(self) -> dict[str, Any]:
        """Saved in a program's JSON; `root` and `device` belong to the machine."""
        return {
            "base_model": self.base_model,
            "adapter_dir": self.adapter_dir,
            "num_beams": self.num_beams,
            "batch_size": self.batch_size,
        }

    def adapter_path(self) -> Path | None:
        """The trained directory, relative paths resolved against `root` (else the working directory)."""
        if self.adapter_dir is None:
            return None
        path = Path(self.adapter_dir).expanduser()
        return path if path.is_absolute() or self.root is None else Path(self.root) / path

    def with_adapter(self, adapter_dir: str | None) -> StudentEngine:
        """A new engine on the same base model and backend serving `adapter_dir`."""
        machine = {"device": self.device, "root": self.root, "backend": self.backend, "compute_type": self.compute_type}
        return StudentEngine(**{**self.settings(), "adapter_dir": adapter_dir}, **machine)

    def load_backend(self) -> Backend:
        """The base model, with the trained dir merged in, on the chosen backend; a ct2 conversion of a trained
        dir lives in `<trained dir>/ct2`, of a bare base model in the ragdistill cache."""
        resolved = resolve_model(self.base_model)
        adapter = self.adapter_path()
        inputs: dict[str, Any] = {"base": dir_fingerprint(resolved.path)}
        if adapter is None:
            self.record = {}
            return open_backend(
                self.backend,
                self.compute_type,
                family=resolved.family,
                load_hf=lambda: load_hf_model(resolved, device=self.device),
                ct2_dir=cached_conversion_dir(resolved.path),
                inputs=inputs,
                device=self.device,
            )
        kind = trained_kind(adapter)
        self.record = read_student_record(adapter)
        if kind == "adapter":
            inputs["adapter"] = [file_digest(f) for f in sorted(adapter.glob("adapter_*")) if f.is_file()]
            load_hf = lambda: _load_adapted(resolved, adapter, self.device)  # noqa: E731
        else:
            full = ResolvedModel(str(adapter), adapter, str(adapter), resolved.family)
            inputs = {"model": dir_fingerprint(adapter)}
            load_hf = lambda: load_hf_model(full, device=self.device)  # noqa: E731
        return open_backend(self.backend, self.compute_type, family=resolved.family, load_hf=load_hf,
                            ct2_dir=adapter / CT2_DIR, inputs=inputs, device=self.device)  # fmt: skip

    def job(self, request: Request, backend: Backend) -> StudentJob:
        """The request's student prompt (its user message)."""
        _, messages = request_text(request)
        return StudentJob(messages_prompt(messages), request.config.max_tokens)

    def _caps(self) -> tuple[int, int]:
        """(max input tokens, max new tokens) the student was trained with (defaults for an untrained base)."""
        train_config = self.record.get("train_config", {})
        max_input = train_config.get("max_input_tokens") or DEFAULT_MAX_INPUT_TOKENS
        return max_input, train_config.get("max_target_tokens") or DEFAULT_MAX_NEW_TOKENS

    def predictor_names(self) -> bool:
        """Whether the student's prompts name their predictor (False when it was trained without names)."""
        self.loaded()  # reads the trained dir's record
        return bool(self.record.get("prompt", {}).get("predictor_names", True))

    def prompt_budget(self) -> PromptBudget:
        """The student's tokenizer and trained prompt cap, which prompts are fitted into (loads the model)."""
        backend = self.loaded()
        if self._budget is None or self._budget.tokenizer is not backend.tokenizer:
            self._budget = PromptBudget(backend.tokenizer, self._caps()[0])
        return self._budget

    def score(self, prompt: str, continuations: list[str], *, eos: bool) -> list[float]:
        """The student's log-probability of each continuation after `prompt` (rendered as in training)."""
        backend = self.loaded()
        max_input = self._caps()[0]
        text = render_for_model(backend.tokenizer, backend.family, prompt, max_input)
        with self._run_lock:
            return backend.score(text, continuations, eos=eos, max_input_tokens=max_input)

    def run_jobs(self, backend: Backend, jobs: list[StudentJob]) -> list[tuple[str, int, int]]:
        """Student prompts rendered as in training (`finetune.prompt.render_for_model`), generated per cap."""
        max_input, trained_cap = self._caps()
        texts = [render_for_model(backend.tokenizer, backend.family, job.prompt, max_input) for job in jobs]
        results: list[tuple[str, int, int] | None] = [None] * len(jobs)
        caps = [job.cap or trained_cap for job in jobs]
        for cap in sorted(set(caps)):
            rows = [row for row, row_cap in enumerate(caps) if row_cap == cap]
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                generations = backend.generate([texts[r] for r in chunk], cap, num_beams=self.num_beams,
                                               max_input_tokens=max_input)  # fmt: skip
                for row, g in zip(chunk, generations, strict=True):
                    results[row] = (g.text.strip(), g.input_tokens, g.output_tokens)
        return results  # type: ignore[return-value]

    def generate(self, prompts: list[str], max_new_tokens: int | None = None) -> list[str]:
        """Completions of raw student prompts, all at once (for serving and benchmarks)."""
        return [text for text, _, _ in self.run([StudentJob(p, max_new_tokens) for p in prompts])]


def _base_spec(spec: str) -> str:
    """A base model spec as saved: local directories absolute, names and hub ids unchanged."""
    path = Path(spec).expanduser()
    return str(path.resolve()) if path.is_dir() else spec


class StudentLM(StudentMessagesOnly, dspy.LM):
    """A `dspy.LM` serving a student through a `StudentEngine`, finetunable through `StudentProvider`."""

    def __init__(self, model: str, *, engine: StudentEngine, cache: bool = False, **kwargs):
        kwargs.setdefault("finetuning_model", engine.base_model)
        super().__init__(model, engine=engine, cache=cache, provider=StudentProvider(), **kwargs)

    @classmethod
    def from_base(
        cls,
        base_model: str,
        adapter_dir: str | os.PathLike | None = None,
        *,
        num_beams: int = 1,
        batch_size: int = 16,
        device: str | None = None,
        cache: bool = False,
        backend: str = STUDENT_BACKEND,
        compute_type: str = "auto",
    ) -> StudentLM:
        """A student LM on `base_model` (a `resolve_model` spec), serving `adapter_dir` when given, generating on
        `backend` with `compute_type` (see `engine.ct2`)."""
        adapter = str(adapter_dir) if adapter_dir is not None else None
        if adapter is not None:
            trained_kind(Path(adapter))  # refuses a directory that is neither an adapter nor a model
        engine = StudentEngine(_base_spec(base_model), adapter, num_beams=num_beams, batch_size=batch_size,
                               device=device, backend=backend, compute_type=compute_type)  # fmt: skip
        return cls(MODEL_PREFIX + (adapter or engine.base_model), engine=engine, cache=cache)

    @classmethod
    def from_trained(cls, trained_dir: str | os.PathLike, **kwargs) -> StudentLM:
        """A student LM for a directory written by `finetune.lora.train_student` (its base read from student.json)."""
        trained_dir = Path(trained_dir)
        trained_kind(trained_dir)  # refuses a directory that is neither an adapter nor a model
        base = read_student_record(trained_dir).get("base_model")
        if base is None:
            raise RunFormatError(f"{trained_dir} has no {STUDENT_FILE}: pass the base model with from_base")
        return cls.from_base(base, trained_dir, **kwargs)

    @property
    def student_engine(self) -> StudentEngine:
        """The engine (typed)."""
        return self.engine

    def generate(self, prompts: list[str]) -> list[str]:
        """Batched completions of raw student prompts, bypassing DSPy (for serving and benchmarks)."""
        return self.student_engine.generate(prompts)

    def prompt_budget(self) -> PromptBudget:
        """The tokenizer and prompt cap the student's prompts are fitted into (`StudentEngine.prompt_budget`)."""
        return self.student_engine.prompt_budget()

    def predictor_names(self) -> bool:
        """Whether this student's prompts name their predictor (`StudentEngine.predictor_names`)."""
        return self.student_engine.predictor_names()

    def score(self, prompt: str, continuations: list[str], *, eos: bool = True) -> list[float]:
        """Log-probability of each continuation after a student prompt (`StudentEngine.score`)."""
        return self.student_engine.score(prompt, continuations, eos=eos)

    def copy(self, **kwargs):
        """DSPy's copy; a new `model` id ("student/<dir>", as the provider returns) serves that trained dir."""
        model = kwargs.get("model")
        if model is not None and model != self.model and "engine" not in kwargs:
            kwargs["engine"] = self.student_engine.with_adapter(model.removeprefix(MODEL_PREFIX))
        return super().copy(**kwargs)


def anchor_students(program: dspy.Module, run_dir: str | os.PathLike) -> None:
    """Make every `StudentLM` in `program` resolve relative adapter paths in `run_dir`.

    Adapter paths inside `run_dir` become relative, so the saved program keeps working when the run moves.
    """
    run_dir = Path(run_dir).resolve()
    for predictor in program.predictors():
        lm = predictor.lm
        if not isinstance(lm, StudentLM):
            continue
        engine = lm.student_engine
        engine.root = str(run_dir)
        path = engine.adapter_path()
        if path is not None and path.resolve().is_relative_to(run_dir):
            engine.adapter_dir = str(path.resolve().relative_to(run_dir))
            lm.model = MODEL_PREFIX + engine.adapter_dir  # the saved id names no path of this machine either


def merge(adapter_dir: str | os.PathLike, out_dir: str | os.PathLike, base_model: str | None = None) -> Path:
    """Merge a trained LoRA adapter into its base model and save a plain model directory (atomically)."""
    adapter_dir = Path(adapter_dir)
    if trained_kind(adapter_dir) != "adapter":
        raise ConfigError(f"{adapter_dir} is already a plain model directory (no adapter to merge)")
    base = base_model or read_student_record(adapter_dir).get("base_model")
    if base is None:
        raise RunFormatError(f"{adapter_dir} has no {STUDENT_FILE}: pass base_model")
    model, tokenizer = _load_adapted(resolve_model(base), adapter_dir, device="cpu")
    return save_model_dir(out_dir, model, tokenizer)
