"""ragdistill.cli: the `ragdistill` command lists every entry point, runs each as itself, with -q/-v and examples.

The console script is `ragdistill.cli:main` (pyproject's [project.scripts]); these tests invoke that click group,
in process and as `python -m ragdistill`, since a test cannot reinstall the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragdistill import cli
from ragdistill.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_subcommand_without_importing_them():
    # A fresh interpreter: the group's help must not import the entry points (torch, DSPy, ...).
    probe = """
import sys
from ragdistill.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print("IMPORTED" if "dspy" in sys.modules or "programs.compile.__main__" in sys.modules else "LIGHT")
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in [*COMMANDS, "bench"]:
        assert f"  {name} " in done.stdout, name
    assert "-q, --quiet" in done.stdout and done.stdout.strip().endswith("LIGHT")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_is_its_entry_point_with_an_example_and_verbosity_options(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    module = COMMANDS[name].module.removesuffix(".__main__")
    assert f"Usage: ragdistill {name} " in result.output
    assert f"Example:\n    {COMMANDS[name].example}" in result.output
    assert f"The same as `python -m {module}`." in result.output
    assert "-q, --quiet" in result.output and "-v, --verbose" in result.output
    # The entry point's own command is left as it was: `python -m` runs it unchanged.
    original = sys.modules[COMMANDS[name].module].main
    assert "quiet" not in [param.name for param in original.params] and original.epilog is None


def test_quiet_leaves_results_and_drops_progress_lines(tiny_run, tmp_path):
    options = ["evaluate", str(tiny_run), "--limit", "1", "--no-teacher", "--retrievers", "bm25", "--threads", "1"]
    loud = CliRunner().invoke(main, [*options, "--out", str(tmp_path / "loud")])
    quiet = CliRunner().invoke(main, ["-q", *options, "--out", str(tmp_path / "quiet")])
    also_quiet = CliRunner().invoke(main, [*options, "-q", "--out", str(tmp_path / "quiet2")])
    for result in (loud, quiet, also_quiet):
        assert result.exit_code == 0, result.output
        assert "student_distilled " in result.stdout and "report: " in result.stdout
    assert "    student_distilled " in loud.stderr and quiet.stderr == "" and also_quiet.stderr == ""
    assert "RAGDISTILL_VERBOSITY" not in os.environ  # the level lasted as long as the command


def test_bench_runs_the_checkouts_scripts():
    result = CliRunner().invoke(main, ["bench", "--help"])
    assert result.exit_code == 0 and "report " in result.output and "hops " in result.output
    assert "  results " not in result.output and "  docs_tables " not in result.output  # helpers, not scripts
    hops = CliRunner().invoke(main, ["bench", "hops", "--help"])
    assert hops.exit_code == 0 and "ragdistill bench hops" in hops.output
    assert "The same as `python -m benchmarks.hops`." in hops.output


def test_bench_outside_a_checkout_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "CHECKOUT", tmp_path)  # no benchmarks/ beside the package
    monkeypatch.setitem(sys.modules, "benchmarks", None)  # and none importable
    result = CliRunner().invoke(main, ["bench", "report", "runs/world"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: `ragdistill bench` runs the scripts")
