"""core: Literal fields become checked CLI choices; library output goes to the log file, C-level writes included."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import click
import pytest
from click.testing import CliRunner

from core.cli import NOT_OPTIONS, build_config, check_choices, dataclass_options
from core.errors import ConfigError, RagdistillError, exit_cleanly_on_error
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


@dataclass
class Inner:
    """A nested config."""

    size: int = 8
    """How big."""
    tags: tuple[str, ...] | None = None
    """Which tags."""
    budget_s: float | None = None
    """Seconds allowed."""


@dataclass
class Outer:
    """A config nesting `Inner`, with its own default size and its own way of setting the budget."""

    inner: Inner = field(default_factory=lambda: Inner(size=4), metadata={NOT_OPTIONS: ("budget_s",)})
    """The nested settings."""
    minutes: float = 1.0
    """Minutes allowed (sets inner.budget_s)."""

    def __post_init__(self) -> None:
        self.inner.budget_s = self.minutes * 60


@click.command()
@dataclass_options(Outer)
def show_outer(**options) -> None:
    click.echo(repr(build_config(Outer, options)))


def test_a_nested_config_gets_its_fields_as_options_with_the_outer_default():
    runner = CliRunner()
    help_text = runner.invoke(show_outer, ["--help"]).output
    assert "--size INTEGER How big. [default: 4]" in " ".join(help_text.split())
    assert "--tags" in help_text and "--minutes" in help_text
    assert "--budget-s" not in help_text and "--inner" not in help_text  # set by the outer config only
    default = runner.invoke(show_outer, [])
    assert default.output.strip() == "Outer(inner=Inner(size=4, tags=None, budget_s=60.0), minutes=1.0)"
    given = runner.invoke(show_outer, ["--size", "2", "--tags", "a, b", "--minutes", "2"])
    assert given.output.strip() == "Outer(inner=Inner(size=2, tags=('a', 'b'), budget_s=120.0), minutes=2.0)"
    # From Python, a subset of the options: the rest keep their defaults (the nested ones the outer field's).
    assert build_config(Outer, {"tags": "x"}) == Outer(inner=Inner(size=4, tags=("x",)))


@dataclass
class Clash:
    """A config whose nested config repeats one of its field names."""

    size: int = 1
    """How big, again."""
    inner: Inner = field(default_factory=Inner)
    """The nested settings."""


def test_two_fields_sharing_an_option_name_are_refused():
    with pytest.raises(ConfigError, match="several fields named size"):
        dataclass_options(Clash)


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
