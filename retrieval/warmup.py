"""Set-up step (`make install` runs it): make the first real index and search fast.

    python -m retrieval.warmup

colbert-ai compiles its C++ extensions with g++/ninja the first time they are needed (one when indexing,
three more when a Searcher opens; ~35 s each, minutes on a loaded CPU). This step compiles all of them into
the cache (`retrieval.compat.extensions_dir()`) by building and searching a 10-passage index in a temporary
directory, and builds the offline MiniLM ColBERT checkpoint into the model cache. It leaves a marker naming
the torch and colbert-ai versions and the device kind, so running it again is instant until one changes.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import click

from core.atomic import scratch_dir
from core.errors import exit_cleanly_on_error
from core.log import say
from data.loaders import Passage
from retrieval.checkpoint import MINILM_CHECKPOINT, minilm_checkpoint
from retrieval.compat import extensions_dir, gpu_count

WARMUP_PASSAGES = [
    Passage(f"w{number}", title, text)
    for number, (title, text) in enumerate(
        [
            ("Rivers", "Rivers carry rain water from hills and mountains down through valleys to lakes and the sea."),
            ("Bridges", "Stone, steel and rope bridges let roads and railways cross rivers, gorges and busy harbours."),
            ("Bread", "Bakers mix flour, water, salt and yeast, knead the dough, let it rise and bake it in ovens."),
            ("Clocks", "Mechanical clocks keep time with a swinging pendulum or a balance wheel and a set of gears."),
            ("Owls", "Owls hunt at night, finding mice and voles by sound with their soft feathers making no noise."),
            ("Glass", "Glass is made by melting sand with soda and lime, then blowing or pressing it into shapes."),
            ("Kites", "A kite flies when wind pushes against its angled sail while a long string holds it steady."),
            ("Maps", "Maps show coasts, roads and towns at a fixed scale, with north usually pointing to the top."),
            ("Bees", "Bees gather nectar and pollen from flowers, and make honey and wax inside their crowded hives."),
            ("Snow", "Snowflakes form when water vapour freezes on dust high in cold clouds and grows six arms."),
        ]
    )
]


def warm_marker() -> Path:
    """The file whose content says which torch, colbert-ai and device kind the cache was warmed for."""
    return extensions_dir() / ".ragdistill-warm"


def warm_key() -> str:
    return f"torch {version('torch')}, colbert-ai {version('colbert-ai')}, {'cuda' if gpu_count() else 'cpu'}"


def warm_up() -> bool:
    """Compile colbert-ai's extensions and build the offline checkpoint; False when already warm."""
    marker = warm_marker()
    if marker.is_file() and marker.read_text(encoding="utf-8") == warm_key():
        minilm_checkpoint()
        return False
    from retrieval.build import build_index
    from retrieval.colbert import ColBERTRetriever

    minilm_checkpoint()
    with scratch_dir("ragdistill-warmup-") as tmp:
        index_dir = build_index(WARMUP_PASSAGES, Path(tmp) / "index", checkpoint=MINILM_CHECKPOINT)
        ColBERTRetriever(index_dir).search("where does honey come from?", k=1)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(warm_key(), encoding="utf-8")
    return True


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@exit_cleanly_on_error
def main() -> None:
    """Compile colbert-ai's C++ extensions into the cache and build the offline MiniLM ColBERT checkpoint."""
    say(f"warming up retrieval (extension cache: {extensions_dir()})...")
    start = time.monotonic()
    if warm_up():
        print(f"retrieval is warm ({time.monotonic() - start:.0f} s)")
    else:
        print("retrieval was already warm")


if __name__ == "__main__":
    main()
