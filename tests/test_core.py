"""core: Literal fields become checked CLI choices; library output goes to the log file, C-level writes included."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import click
import pytest
from click.testing import CliRunner

from core.cli import check_choices, dataclass_options
from core.errors import RagdistillError, exit_cleanly_on_error
from core.log import library_log, library_output_to_log


@dataclass
class Settings:
    """Two choices and a plain field."""

    colour: Literal["red", "blue"] = "red"
    """Which colour."""
    bits: Literal[1, 2, 4] = 4
    """How many bits."""
    name: str = "x"
    """A name."""

    def __post_init__(self) -> None:
        check_choices(self)


@click.command()
@dataclass_options(Settings)
@exit_cleanly_on_error
def show(**options) -> None:
    click.echo(repr(Settings(**options)))


def test_literal_fields_are_documented_choices_and_a_wrong_one_is_one_error_line():
    runner = CliRunner()
    assert "[red|blue]" in runner.invoke(show, ["--help"]).output
    ok = runner.invoke(show, ["--colour", "blue", "--bits", "2"])
    assert ok.exit_code == 0 and "colour='blue', bits=2" in ok.output
    bad = runner.invoke(show, ["--bits", "3"])
    assert bad.exit_code == 2 and bad.output.strip() == "error: unknown bits 3: choose one of 1, 2, 4"
    with pytest.raises(RagdistillError, match="unknown colour 'green'"):
        Settings(colour="green")


def test_library_output_goes_to_the_log_and_its_path_is_said_once(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("RAGDISTILL_CACHE", str(tmp_path))
    library_log.cache_clear()
    try:
        for _ in range(2):
            with library_output_to_log() as path:
                print("from python", flush=True)
                os.write(1, b"from C\n")
                os.write(2, b"C to stderr\n")
        print("after")
        out, err = capfd.readouterr()
    finally:
        library_log.cache_clear()
    assert path.parent == tmp_path / "logs"
    assert out == "after\n" and "C to stderr" not in err
    assert err.count(f"library output is logged to {path}") == 1
    assert path.read_text() == "from python\nfrom C\nC to stderr\n" * 2
