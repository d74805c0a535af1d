"""Make colbert-ai 0.2.22 usable here: transformers 5, a cache for its C++ extensions, in-process runs.

Every ragdistill module that touches colbert-ai calls `import_colbert()` first instead of `import colbert`,
which, in this order:
- points `TORCH_EXTENSIONS_DIR` at a cache (unless the user set it), so the four C++ extensions colbert-ai
  compiles on first use (~35 s each on a small CPU) are compiled once per machine, not once per session;
- loads every extension under ragdistill's own file lock (`extension_build_lock`), and removes the `lock`
  file torch leaves in an extension's build directory when a process is killed while compiling it: torch
  would otherwise wait for that file forever, without a word (`clear_stale_extension_lock`);
- imports colbert and undoes its side effects on the whole program (it forces the multiprocessing start
  method to 'spawn' and sets TOKENIZERS_PARALLELISM); `run_context` sets 'spawn' again only while a
  multi-GPU run needs it;
- wraps colbert's model-class factory so each model's `__init__` ends with `post_init()`, which
  transformers 5 requires (colbert calls the older `init_weights()` only, and every checkpoint load fails
  with "'HF_ColBERT' object has no attribute 'all_tied_weights_keys'").

`run_context(nranks)` is colbert's `Run().context(RunConfig(...))` with settings that work here: one rank
in-process on CPU (a child process that crashes would leave the parent waiting forever), one rank per GPU on
CUDA (or `nranks` of them; `check_nranks` refuses more ranks than GPUs in one line). It also sends
colbert-ai's chatter (hundreds of lines per index build, printed from Python and, through faiss, from C++) to
the log file of `core.log.library_output_to_log`, so a CLI shows only its own progress lines and the log's
path. Simplified: no support for choosing a subset of GPUs (multi-GPU ranks are colbert-ai's own spawned
processes, not exercised by the CPU test suite); the output redirection is process-wide while it lasts (an
extension loaded inside it says its notes in the log file); a torch `lock` is taken as stale whenever we hold
our lock, so a non-ragdistill program compiling into the same $TORCH_EXTENSIONS_DIR at the same moment is not
protected (the default cache is ragdistill's own).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from core.cache import cache_dir
from core.errors import ConfigError
from core.log import library_output_to_log, say


def extensions_dir() -> Path:
    """Where colbert-ai's compiled extensions are cached: $TORCH_EXTENSIONS_DIR, else a ragdistill cache with one
    directory per Python environment path (an extension's build file names the torch headers by the path Python
    found them under, so two paths sharing one directory, even two paths to one environment through a symlink,
    would each rebuild all four extensions whenever the other ran)."""
    if os.environ.get("TORCH_EXTENSIONS_DIR"):
        return Path(os.environ["TORCH_EXTENSIONS_DIR"])
    environment = hashlib.sha256(os.path.abspath(sys.prefix).encode()).hexdigest()[:10]
    return cache_dir() / "torch_extensions" / environment


EXTENSION_USERS = (
    "colbert.modeling.colbert",
    "colbert.search.index_storage",
    "colbert.search.strided_tensor",
    "colbert.indexing.codecs.residual",
)
"""colbert-ai modules that load a C++ extension with `torch.utils.cpp_extension.load` (imported by name)."""
BUILD_LOCK = ".ragdistill-build.lock"


@contextmanager
def extension_build_lock() -> Iterator[None]:
    """Hold ragdistill's own lock on the extension cache (fcntl.flock, released by the kernel if we die).

    Says so on stderr when another ragdistill process holds it (compiling), instead of waiting in silence.
    """
    root = extensions_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / BUILD_LOCK, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another ragdistill process that compiles colbert-ai extensions in {root}", detail=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clear_stale_extension_lock(name: str) -> None:
    """Remove torch's `lock` file of extension `name`; call only while holding `extension_build_lock`.

    torch's lock is a bare file without an owner (its `FileBaton` waits forever while the file exists). Every
    ragdistill process loads extensions under our flock, so while we hold it none of ours is compiling: a
    `lock` file found then was left by a process killed mid-build.
    """
    lock = extensions_dir() / name / "lock"
    if lock.exists():
        lock.unlink(missing_ok=True)
        say(f"note: removed {lock}, left by a process killed while compiling {name}", detail=True)


def _loads_under_our_lock(load: Callable) -> Callable:
    """Wrap `torch.utils.cpp_extension.load` so each load holds our lock and clears a stale torch lock first."""

    @functools.wraps(load)
    def locked_load(name: str, *args, **kwargs):
        with extension_build_lock():
            clear_stale_extension_lock(name)
            return load(name, *args, **kwargs)

    return locked_load


def _ends_with_post_init(class_factory):
    """Wrap colbert's `class_factory` so the model classes it makes call `post_init()` after `__init__`."""

    @functools.wraps(class_factory)
    def patched_factory(name_or_path):
        model_class = class_factory(name_or_path)
        original_init = model_class.__init__

        def __init__(self, config, colbert_config):
            original_init(self, config, colbert_config)
            self.post_init()

        model_class.__init__ = __init__
        return model_class

    return patched_factory


@functools.cache
def import_colbert() -> ModuleType:
    """Import colbert-ai with the extension cache set, the start method left alone and the transformers-5 fix."""
    import multiprocessing

    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(extensions_dir()))
    start_method = multiprocessing.get_start_method(allow_none=True)
    tokenizers_parallelism = os.environ.get("TOKENIZERS_PARALLELISM")
    import colbert
    import colbert.modeling.base_colbert
    import colbert.modeling.hf_colbert
    import colbert.modeling.tokenization.doc_tokenization
    import colbert.modeling.tokenization.query_tokenization

    multiprocessing.set_start_method(start_method, force=True)
    if tokenizers_parallelism is None:  # colbert sets it to "true" on import
        os.environ.pop("TOKENIZERS_PARALLELISM", None)
    else:
        os.environ["TOKENIZERS_PARALLELISM"] = tokenizers_parallelism
    patched = _ends_with_post_init(colbert.modeling.hf_colbert.class_factory)
    # Each module imported the factory by name, so each keeps its own reference to replace.
    for module in (
        colbert.modeling.hf_colbert,
        colbert.modeling.base_colbert,
        colbert.modeling.tokenization.doc_tokenization,
        colbert.modeling.tokenization.query_tokenization,
    ):
        module.class_factory = patched
    for name in EXTENSION_USERS:  # each imported `load` by name, too
        module = importlib.import_module(name)
        module.load = _loads_under_our_lock(module.load)
    return colbert


def gpu_count() -> int:
    """How many CUDA devices colbert-ai will use (0 on a CPU-only machine)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_nranks(nranks: int | None) -> int:
    """The indexing ranks to run: `nranks`, or one per GPU (1 on CPU) when None; a one-line error if impossible.

    colbert-ai's multi-rank indexing is CUDA-only: its ranks join a process group only when CUDA is there
    (NCCL), and its barrier divides by the number of GPUs, so on a CPU the ranks never meet.
    """
    gpus = gpu_count()
    if nranks is None:
        return max(1, gpus)
    if nranks < 1:
        raise ConfigError(f"--nranks must be at least 1, not {nranks}")
    if nranks > 1 and nranks > gpus:
        raise ConfigError(
            f"--nranks {nranks} needs {nranks} CUDA devices and this machine has {gpus}: colbert-ai indexes with "
            "one process per GPU (on a CPU its ranks never join a process group); use --nranks 1"
        )
    return nranks


@contextmanager
def run_context(nranks: int | None = None) -> Iterator[None]:
    """colbert-ai's run context (one in-process rank on CPU or one GPU, else `nranks` or one per GPU), its output
    in a log file."""
    import multiprocessing

    import_colbert()
    from colbert.infra import Run, RunConfig

    nranks = check_nranks(nranks)
    start_method = multiprocessing.get_start_method(allow_none=True)
    if nranks > 1:
        multiprocessing.set_start_method("spawn", force=True)
    try:
        with (
            library_output_to_log(),
            Run().context(RunConfig(nranks=nranks, avoid_fork_if_possible=True)),
            warnings.catch_warnings(),
        ):
            # colbert-ai sets up CUDA mixed precision even on CPU, where it does nothing but warn.
            warnings.filterwarnings("ignore", message=r".*(torch\.cuda\.amp\.|CUDA is not available)")
            yield
    finally:
        multiprocessing.set_start_method(start_method, force=True)
