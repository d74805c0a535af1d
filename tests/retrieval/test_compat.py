"""Where colbert-ai's compiled extensions are cached (`retrieval.compat.extensions_dir`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ASK = (
    "import torch.utils.cpp_extension as ext; from retrieval.compat import extensions_dir; "
    "print(extensions_dir()); print(ext.include_paths()[0])"
)


def cache_and_headers(python: Path) -> tuple[str, str]:
    """The extension cache `python` uses, and the torch headers its build files would name."""
    env = {key: value for key, value in os.environ.items() if key != "TORCH_EXTENSIONS_DIR"}
    out = subprocess.run([str(python), "-c", ASK], capture_output=True, text=True, check=True, env=env).stdout
    cache, headers = out.splitlines()
    return cache, headers


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs a virtual environment to link to")
def test_one_environment_reached_by_two_paths_caches_its_extensions_apart(tmp_path):
    link = tmp_path / "venv"
    link.symlink_to(sys.prefix, target_is_directory=True)
    cache, headers = cache_and_headers(Path(sys.prefix) / "bin" / "python")
    linked_cache, linked_headers = cache_and_headers(link / "bin" / "python")
    # The build files name the headers by the path Python was started from: one cache would rebuild by turns.
    assert headers.startswith(os.path.abspath(sys.prefix)) and linked_headers.startswith(str(link))
    assert cache != linked_cache
