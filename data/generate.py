"""`python -m data.generate`: write the bundled fictional world to `data/world/` (or check it is up to date).

`--check` regenerates the world in memory and compares it byte for byte with the files on disk, so CI can
prove the committed data is exactly what the seeded generator produces.
"""

from __future__ import annotations

from pathlib import Path

import click

from data.atomic import write_text_atomic
from data.errors import RagdistillError, exit_cleanly_on_error
from data.loaders import WORLD_DIR
from data.world import SEED, render_files


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--seed", default=SEED, show_default=True, help="Seed of the world (the bundled files use the default).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=WORLD_DIR,
    show_default=True,
    help="Directory to write corpus.jsonl, train.jsonl, dev.jsonl and test.jsonl to.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 unless the files in --out are byte-identical.")
@exit_cleanly_on_error
def main(seed: int, out: Path, check: bool) -> None:
    """Generate the bundled fictional QA world (passages and single- and two-hop questions)."""
    files = render_files(seed)
    if check:
        stale = [
            name
            for name, text in files.items()
            if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
        ]
        if stale:
            raise RagdistillError(
                f"{out}: {', '.join(stale)} differ from the generator's output; run python -m data.generate"
            )
        click.echo(f"{out}: up to date ({', '.join(files)})")
        return
    for name, text in files.items():
        write_text_atomic(out / name, text)
    counts = ", ".join(f"{name} {text.count(chr(10))}" for name, text in files.items())
    click.echo(f"wrote {out}: {counts}")


if __name__ == "__main__":
    main()
