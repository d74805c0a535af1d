"""`python -m data.generate`: write the bundled fictional world to `data/world/` (or check it is up to date).

`--check` regenerates the world in memory and compares it byte for byte with the files on disk, so CI can
prove the committed data is exactly what the seeded generator produces: exit 0 when they match, 1 when
they do not (naming the files that differ).
"""

from __future__ import annotations

from pathlib import Path

import click

from core.atomic import write_text_atomic
from core.errors import exit_cleanly_on_error
from data.loaders import WORLD_DIR
from data.world import SEED, World, generate, render_files, split


def summary(world: World) -> str:
    """One line of counts: entities, passages, questions by hops, questions per split."""
    entities = sum(len(of_kind) for of_kind in world.entities.values())
    two_hop = sum(question["hops"] == 2 for question in world.questions)
    splits = ", ".join(f"{name} {len(rows)}" for name, rows in split(world).items())
    return (
        f"{entities} entities, {len(world.passages)} passages, {len(world.questions)} questions "
        f"({len(world.questions) - two_hop} single-hop, {two_hop} two-hop): {splits}"
    )


def stale_files(files: dict[str, str], out: Path) -> list[str]:
    """Names of the files in `out` that are absent or differ from `files`."""
    return [
        name for name, text in files.items() if not (out / name).is_file() or (out / name).read_bytes() != text.encode()
    ]


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
    world = generate(seed)
    files = render_files(world)
    if check:
        stale = stale_files(files, out)
        if stale:
            click.echo(
                f"{out}: {', '.join(stale)} differ from the generator's output (seed {seed}); "
                "run python -m data.generate to rewrite them",
                err=True,
            )
            raise SystemExit(1)
        click.echo(f"{out}: up to date ({summary(world)})")
        return
    for name, text in files.items():
        write_text_atomic(out / name, text)
    click.echo(f"wrote {out}: {summary(world)}")


if __name__ == "__main__":
    main()
