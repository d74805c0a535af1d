"""The stamp's command line, rebuilt from the running click command (`benchmarks.results.command_line`)."""

from __future__ import annotations

import click
from click.testing import CliRunner

from benchmarks.results import command_line


@click.command()
@click.option("--before", is_flag=True)
@click.option("--fusion/--no-fusion", default=True)
@click.option("--limit", type=int, default=3)
def bench(before: bool, fusion: bool, limit: int) -> None:
    click.echo(command_line("demo"))


def run(*args: str) -> str:
    result = CliRunner().invoke(bench, list(args))
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_defaults_are_left_out_and_an_unset_flag_is_a_default():
    assert run() == "python -m benchmarks.demo"


def test_given_options_are_written_as_typed():
    assert run("--before", "--no-fusion", "--limit", "7") == "python -m benchmarks.demo --before --no-fusion --limit 7"
