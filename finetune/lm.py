"""The trained student served as a DSPy LM: `StudentLM` (a named `dspy.LM`) running a `StudentEngine` in-process.

The engine loads the base model (`engine.models.load_hf_model`) and, when there is one, the trained
directory on top of it — a peft adapter, merged into the weights for faster generation, or a fully
fine-tuned model — once, on first use. `generate(prompts)` answers a batch (greedy, or beam search with
`num_beams`); DSPy's `complete(Request)` answers one request through it.

Saving: DSPy stores the engine's `dump_state()` in a saved program, and `StudentLM` always re-creates its
finetunable `StudentProvider`, so a reloaded program can be served and re-distilled. Loading a program that
holds a `StudentLM` needs `program.load(path, allow_unsafe_lm_state=True)` (DSPy imports the LM and engine
classes named in the file; load only files you trust). Relative adapter paths resolve against the engine's
`root`: call `anchor_students(program, run_dir)` before saving (paths inside `run_dir` become relative) and
after loading (they resolve there again), so a run directory can move.

Batching: `generate` takes many prompts at once; DSPy calls one request at a time, so parallel DSPy calls
queue on a lock unless `use_batching` is on (the QA service turns it on): then concurrent `complete` calls
are grouped by a `engine.batching.MicroBatcher` into one `generate` call.

Deliberate simplifications: sampling settings and `n` are ignored (decoding is
deterministic); DSPy's response cache is off by default because the weights behind a model id change when
a student is retrained.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import dspy
from dspy.lm15 import Message, Request, Response, TextPart, Usage, response_to_events

from core.atomic import atomic_dir
from core.errors import RagdistillError
from engine.batching import MicroBatcher
from engine.models import ResolvedModel, load_hf_model, resolve_model
from finetune.lora import render_prompt
from finetune.provider import MODEL_PREFIX, StudentProvider
from finetune.record import STUDENT_FILE, read_student_record

DEFAULT_MAX_INPUT_TOKENS = 512
DEFAULT_MAX_NEW_TOKENS = 64


def check_trained_dir(trained_dir: Path) -> None:
    """Refuse a directory that is neither a peft adapter nor a model directory."""
    if not trained_dir.is_dir():
        raise RagdistillError(f"student directory {trained_dir} does not exist")
    if not (trained_dir / "adapter_config.json").exists() and not (trained_dir / "config.json").exists():
        raise RagdistillError(f"{trained_dir} holds neither a peft adapter (adapter_config.json) nor a model")


def _load_adapted(resolved: ResolvedModel, adapter_dir: Path, device: str | None):
    """Base model + the peft adapter in `adapter_dir`, merged into plain weights; errors name the adapter."""
    from peft import PeftModel

    model, tokenizer = load_hf_model(resolved, device=device)
    try:
        model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    except Exception as err:  # peft raises ValueError, OSError, KeyError, RuntimeError, SafetensorError...
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise RagdistillError(f"adapter {adapter_dir} cannot be loaded onto {resolved.spec}: {message}") from None
    return model.eval(), tokenizer


class StudentEngine:
    """A DSPy engine (`complete(Request) -> Response`) generating with a base model and an optional trained dir."""

    def __init__(
        self,
        base_model: str,
        adapter_dir: str | None = None,
        *,
        num_beams: int = 1,
        batch_size: int = 16,
        device: str | None = None,
        root: str | None = None,
    ):
        self.base_model = base_model
        self.adapter_dir = adapter_dir
        self.num_beams = num_beams
        self.batch_size = batch_size
        self.device = device
        self.root = root
        self.batcher: MicroBatcher | None = None
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, ResolvedModel, dict] | None = None

    def __deepcopy__(self, memo: dict) -> StudentEngine:
        # Programs are deep-copied often (optimizers); copies share one loaded model instead of failing on the lock.
        return self

    def use_batching(self, max_batch: int, wait_s: float = 0.01) -> MicroBatcher:
        """Group concurrent `complete` calls into one `generate` call (up to `max_batch` prompts; for serving)."""
        self.batcher = MicroBatcher(self.generate, max_batch=max_batch, wait_s=wait_s)
        return self.batcher

    def adapter_path(self) -> Path | None:
        """The trained directory, relative paths resolved against `root` (else the working directory)."""
        if self.adapter_dir is None:
            return None
        path = Path(self.adapter_dir).expanduser()
        return path if path.is_absolute() or self.root is None else Path(self.root) / path

    def with_adapter(self, adapter_dir: str | None) -> StudentEngine:
        """A new engine on the same base model serving `adapter_dir`."""
        return StudentEngine(
            self.base_model,
            adapter_dir,
            num_beams=self.num_beams,
            batch_size=self.batch_size,
            device=self.device,
            root=self.root,
        )

    def load(self) -> tuple[Any, Any, ResolvedModel, dict]:
        """(model, tokenizer, resolved base, student record), loaded on first use."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any, ResolvedModel, dict]:
        resolved = resolve_model(self.base_model)
        adapter = self.adapter_path()
        if adapter is None:
            return (*load_hf_model(resolved, device=self.device), resolved, {})
        check_trained_dir(adapter)
        record = read_student_record(adapter)
        if (adapter / "adapter_config.json").exists():
            return (*_load_adapted(resolved, adapter, self.device), resolved, record)
        full = ResolvedModel(str(adapter), adapter, str(adapter), resolved.family)
        return (*load_hf_model(full, device=self.device), resolved, record)

    def unload(self) -> None:
        """Drop the weights (they load again on the next call)."""
        with self._lock:
            self._loaded = None

    def generate(self, prompts: list[str], max_new_tokens: int | None = None) -> list[str]:
        """Completions of `prompts`, generated in batches of `batch_size`."""
        import torch

        model, tokenizer, resolved, record = self.load()
        train_config = record.get("train_config", {})
        max_input = train_config.get("max_input_tokens", DEFAULT_MAX_INPUT_TOKENS)
        cap = max_new_tokens or train_config.get("max_target_tokens", DEFAULT_MAX_NEW_TOKENS)
        outputs: list[str] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(prompts), self.batch_size):
                texts = [
                    render_prompt(tokenizer, resolved.family, p, max_input)
                    for p in prompts[start : start + self.batch_size]
                ]
                causal = resolved.family == "causal"
                # Causal prompts were cut by render_prompt already; their chat template holds the special tokens.
                limits = {"add_special_tokens": False} if causal else {"truncation": True, "max_length": max_input}
                batch = tokenizer(texts, return_tensors="pt", padding=True, **limits).to(model.device)
                generated = model.generate(
                    **batch,
                    max_new_tokens=cap,
                    num_beams=self.num_beams,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,  # what training appends to every completion
                )
                if causal:
                    generated = generated[:, batch["input_ids"].shape[1] :]
                outputs += [text.strip() for text in tokenizer.batch_decode(generated, skip_special_tokens=True)]
        return outputs

    def complete(self, request: Request) -> Response:
        """Answer one DSPy request: its system text and messages joined into one prompt."""
        system = request.system
        if system is not None and not isinstance(system, str):
            system = "".join(part.text for part in system)
        prompt = "\n\n".join(([system] if system else []) + [m.text or "" for m in request.messages])
        if self.batcher is not None:  # concurrent requests are generated together (see `use_batching`)
            text = self.batcher.submit(prompt)
        else:
            text = self.generate([prompt], max_new_tokens=request.config.max_tokens)[0]
        tokenizer = self.load()[1]
        tokens_in, tokens_out = (len(tokenizer(t, add_special_tokens=False).input_ids) for t in (prompt, text))
        return Response(
            id=None,
            model=request.model,
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=tokens_in, output_tokens=tokens_out),
        )

    def stream(self, request: Request):
        """The whole response as one stream of events (no token streaming)."""
        return response_to_events(self.complete(request))

    def close(self) -> None:
        """Nothing to close: the weights stay loaded while the engine lives (see `unload`)."""

    def dump_state(self) -> dict[str, Any]:
        """What `load_state` needs (saved in a program's JSON); `root` and `device` belong to the machine."""
        return {
            "base_model": self.base_model,
            "adapter_dir": self.adapter_dir,
            "num_beams": self.num_beams,
            "batch_size": self.batch_size,
        }

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> StudentEngine:
        """Rebuild an engine from `dump_state` output."""
        return cls(**state)


def _base_spec(spec: str) -> str:
    """A base model spec as saved: local directories absolute, names and hub ids unchanged."""
    path = Path(spec).expanduser()
    return str(path.resolve()) if path.is_dir() else spec


class StudentLM(dspy.LM):
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
    ) -> StudentLM:
        """A student LM on `base_model` (a `resolve_model` spec), serving `adapter_dir` when given."""
        adapter = str(adapter_dir) if adapter_dir is not None else None
        if adapter is not None:
            check_trained_dir(Path(adapter))
        engine = StudentEngine(
            _base_spec(base_model), adapter, num_beams=num_beams, batch_size=batch_size, device=device
        )
        return cls(MODEL_PREFIX + (adapter or engine.base_model), engine=engine, cache=cache)

    @classmethod
    def from_trained(cls, trained_dir: str | os.PathLike, **kwargs) -> StudentLM:
        """A student LM for a directory written by `finetune.lora.train_student` (its base read from student.json)."""
        trained_dir = Path(trained_dir)
        check_trained_dir(trained_dir)
        base = read_student_record(trained_dir).get("base_model")
        if base is None:
            raise RagdistillError(f"{trained_dir} has no {STUDENT_FILE}: pass the base model with from_base")
        return cls.from_base(base, trained_dir, **kwargs)

    @property
    def student_engine(self) -> StudentEngine:
        """The engine (typed)."""
        return self.engine

    def generate(self, prompts: list[str]) -> list[str]:
        """Batched completions of raw student prompts, bypassing DSPy (for serving and benchmarks)."""
        return self.student_engine.generate(prompts)

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
    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    check_trained_dir(adapter_dir)
    if not (adapter_dir / "adapter_config.json").exists():
        raise RagdistillError(f"{adapter_dir} is already a plain model directory (no adapter to merge)")
    base = base_model or read_student_record(adapter_dir).get("base_model")
    if base is None:
        raise RagdistillError(f"{adapter_dir} has no {STUDENT_FILE}: pass base_model")
    model, tokenizer = _load_adapted(resolve_model(base), adapter_dir, device="cpu")
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out_dir
