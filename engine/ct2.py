"""Choosing a generation backend, and converting models for CTranslate2 once.

`open_backend(...)` is how every local engine loads a model. `backend` is "ct2", "transformers" or
"auto" (ct2 when the `ctranslate2` package is importable); `compute_type` is a CTranslate2 compute type
or "auto" (float32 on a CPU: int8 measured 2x faster again but changed answers, see docs/architecture.md;
float16 on a GPU). A ct2 model is a conversion of the Hugging Face weights (with a trained adapter merged
into them), in their own precision, written atomically to `ct2_dir` with the tokenizer and an
`inputs.json` holding the hash of what it was made from (weights, base model, converter version): it is
reused while that hash matches and rebuilt otherwise. CTranslate2 quantizes to the compute type when it
loads the conversion (a second or two), so one conversion serves every compute type.

When ct2 was asked for but cannot serve — the package is absent, $RAGDISTILL_NO_CT2 is set (to compare or
to test the fallback), or the converter does not know the architecture — one `note:` line says why on
stderr and the model runs on stock transformers, which is also what training uses.

Deliberate simplifications: the weights are hashed by content only for adapters (small); a base model
directory counts as unchanged while its weight files keep their size and modification time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.atomic import atomic_dir, scratch_dir, temp_stem, write_json_atomic
from core.cache import cache_dir
from core.errors import ConfigError, first_line
from engine.backends import Backend, CT2Backend, TransformersBackend

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from engine.models import Family

BACKENDS = ("auto", "ct2", "transformers")
DISABLE_ENV = "RAGDISTILL_NO_CT2"
INPUTS_FILE = "inputs.json"

LoadHF = Callable[[], "tuple[PreTrainedModel, PreTrainedTokenizerBase]"]


_NOTES_SHOWN: set[str] = set()


def note_once(message: str) -> None:
    """Print `message` on stderr the first time this process sees it (engines load more than once)."""
    if message not in _NOTES_SHOWN:
        _NOTES_SHOWN.add(message)
        print(message, file=sys.stderr)


class ConversionError(Exception):
    """CTranslate2 cannot convert or load a model (the engine falls back to transformers)."""


def ct2_unavailable() -> str | None:
    """Why ct2 cannot be used in this process, or None when it can."""
    if os.environ.get(DISABLE_ENV):
        return f"${DISABLE_ENV} is set"
    if importlib.util.find_spec("ctranslate2") is None:
        return "the ctranslate2 package is not installed"
    return None


def check_backend(backend: str) -> None:
    """Refuse an unknown backend name."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS)}")


def ct2_device(device: str | None) -> str:
    """ "cuda" when asked for or when CTranslate2 sees a GPU, else "cpu"."""
    import ctranslate2

    if device is not None:
        return "cuda" if device.startswith("cuda") else "cpu"
    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def resolve_compute_type(compute_type: str, device: str) -> str:
    """A concrete compute type for `device` ("auto": float32 on CPU, float16 on GPU); unsupported ones refused."""
    import ctranslate2

    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "float32"
    supported = ctranslate2.get_supported_compute_types(device)
    if compute_type not in supported:
        raise ConfigError(
            f"compute type {compute_type!r} is not supported on this {device}: choose {', '.join(sorted(supported))}"
        )
    return compute_type


def file_digest(path: Path) -> str:
    """sha256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dir_fingerprint(model_dir: Path) -> list[str]:
    """A model directory's identity: its path and each weight file's name, size and modification time."""
    weights = sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin"))
    return [str(model_dir.resolve())] + [f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights]


def cached_conversion_dir(model_dir: Path) -> Path:
    """Where the conversion of a base model directory lives: the ragdistill cache, one entry per directory."""
    where = hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:8]
    return cache_dir() / "ct2" / f"{model_dir.name}-{where}"


def _convert(load_hf: LoadHF, target: Path, inputs_sha256: str) -> None:
    """Save the loaded model in a scratch directory, convert it into `target` (atomic), stamp its inputs."""
    from ctranslate2.converters import TransformersConverter

    model, tokenizer = load_hf()
    with atomic_dir(target) as out, scratch_dir(temp_stem(target), target.parent) as scratch:
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        del model
        try:
            TransformersConverter(str(scratch)).convert(str(out), force=True)
        except Exception as err:  # ValueError for unknown architectures; the converter raises others too
            raise ConversionError(first_line(err)) from None
        config_file = out / "config.json"
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if config.get("bos_token") is None:  # CTranslate2 refuses a null bos; generation never uses it here
            config["bos_token"] = config.get("eos_token")
            write_json_atomic(config_file, config)
        tokenizer.save_pretrained(out / "tokenizer")
        write_json_atomic(out / INPUTS_FILE, {"sha256": inputs_sha256})


def converted(ct2_dir: Path, inputs: dict, load_hf: LoadHF) -> Path:
    """`ct2_dir`, converted from `load_hf()` unless it already holds a conversion of the same `inputs`."""
    import ctranslate2

    stamp = {**inputs, "ctranslate2": ctranslate2.__version__}
    wanted = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()
    stamp_file = ct2_dir / INPUTS_FILE
    if not stamp_file.is_file() or json.loads(stamp_file.read_text(encoding="utf-8")).get("sha256") != wanted:
        print(f"converting the model for CTranslate2 into {ct2_dir} (once)", file=sys.stderr)
        _convert(load_hf, ct2_dir, wanted)
    return ct2_dir


def open_backend(
    backend: str,
    compute_type: str,
    *,
    family: Family,
    load_hf: LoadHF,
    ct2_dir: Path,
    inputs: dict,
    device: str | None = None,
) -> Backend:
    """The model on the chosen backend; ct2 falls back to transformers with one note line (module docstring)."""
    check_backend(backend)
    reason = ct2_unavailable() if backend != "transformers" else None
    if backend != "transformers" and reason is None:
        device = ct2_device(device)
        compute_type = resolve_compute_type(compute_type, device)
        try:
            model_dir = converted(ct2_dir, inputs, load_hf)
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model_dir / "tokenizer")
            return CT2Backend(model_dir, tokenizer, family, compute_type, device)
        except (ConversionError, RuntimeError) as err:  # RuntimeError: CTranslate2 refused to load the conversion
            reason = f"CTranslate2 cannot serve this model ({first_line(err)})"
    if reason is not None:
        note_once(f"note: {reason}; generating with transformers")
    model, tokenizer = load_hf()
    return TransformersBackend(model, tokenizer, family)
