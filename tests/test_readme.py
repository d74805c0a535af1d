"""Every README code block marked `<!-- runnable -->` runs, as written (slow, real models) and on a tiny student
(default run: the block's text with the student swapped for a tiny local one and the sizes cut)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNNABLE = re.compile(r"<!-- runnable -->\n```(?P<lang>\w+)\n(?P<body>.*?)\n```", re.DOTALL)
TINY_COMPILE = [
    *("--train-size", "6", "--dev-size", "2", "--test-size", "2"),
    *("--baseline-test-size", "1", "--epochs", "1"),
]


def runnable_blocks() -> list[tuple[str, str]]:
    """(language, text) of each runnable block, in README order."""
    return [(m["lang"], m["body"]) for m in RUNNABLE.finditer((REPO / "README.md").read_text(encoding="utf-8"))]


def run_block(lang: str, body: str, cwd: Path, extra_args: list[str]) -> subprocess.CompletedProcess:
    """Run one block from `cwd` with the repository importable; shell blocks get `extra_args` appended."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    if lang == "python":
        command = [sys.executable, "-c", body]
    else:
        words = shlex.split(body.replace("\\\n", " "))
        assert words[:2] == ["python", "-m"], body
        command = [sys.executable, *words[1:], *extra_args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)


def copy_examples(cwd: Path) -> None:
    """The README's commands name `examples/...` relative to a checkout: give `cwd` the same files."""
    shutil.copytree(REPO / "examples", cwd / "examples", ignore=shutil.ignore_patterns("__pycache__"))


def test_the_readme_is_user_documentation_of_at_most_250_lines():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "../" not in text  # names nothing outside the repository
    assert not re.search(r"\b[0-9a-f]{7,40}\b", text)  # and no commit


def test_the_readme_marks_its_distillation_snippet_and_command_runnable():
    languages = [lang for lang, _ in runnable_blocks()]
    assert languages == ["python", "bash"]


def check_python_block(result: subprocess.CompletedProcess, cwd: Path) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] in ("billing", "technical")  # a choice, whatever the student
    assert (cwd / "adapters" / "route" / "student.json").is_file()


def check_compile_block(result: subprocess.CompletedProcess, out: Path) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "triage" / "report" / "report.md").is_file()


def test_readme_blocks_run_on_a_tiny_student(tiny_t5_dir: Path, tmp_path: Path):
    (python_lang, snippet), (shell_lang, command) = runnable_blocks()
    tiny_snippet = snippet.replace('StudentLM.from_base("smollm2")', f"StudentLM.from_base({str(tiny_t5_dir)!r})")
    assert tiny_snippet != snippet
    check_python_block(run_block(python_lang, tiny_snippet, tmp_path, []), tmp_path)
    tiny = ["--student", str(tiny_t5_dir), *TINY_COMPILE, "--out", str(tmp_path / "runs")]
    copy_examples(tmp_path)
    check_compile_block(run_block(shell_lang, command, tmp_path, tiny), tmp_path / "runs")


@pytest.mark.slow
def test_readme_blocks_run_as_written(tmp_path: Path):
    (python_lang, snippet), (shell_lang, command) = runnable_blocks()
    check_python_block(run_block(python_lang, snippet, tmp_path, []), tmp_path)
    copy_examples(tmp_path)
    check_compile_block(run_block(shell_lang, command, tmp_path, []), tmp_path / "runs")
