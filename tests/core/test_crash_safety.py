"""Crash safety: a stale torch extension lock is cleared, and SIGKILLed commands leave nothing half-written.

Temporaries a killed writer leaves (hidden, named after their target and their process) are removed by the
next writer of the same target, those of a live process never. The stale-lock test loads a real colbert-ai
extension from a copy of the extension cache holding a `lock` file, as a process killed while compiling
leaves it. The slow tests SIGKILL `python -m retrieval.index`, `python -m finetune.train` and
`python -m programs.compile` in the middle of their work, check what a reader sees, then run the command
again (`--resume` for the compile) to completion.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.atomic import atomic_dir, scratch_dir, write_json_atomic
from retrieval.build import build_index
from retrieval.compat import extensions_dir
from retrieval.warmup import warm_up
from tests.fixtures_retrieval import TINY_PASSAGES

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
LOAD_EXTENSION = (
    "from retrieval.compat import import_colbert; import_colbert(); "
    "from colbert.modeling.colbert import ColBERT; ColBERT.try_load_torch_extensions(use_gpu=False)"
)


def test_a_stale_extension_lock_is_removed_with_one_note(tmp_path):
    warm_up()  # the extensions compiled into the cache (once per machine: minutes on a fresh one)
    source = extensions_dir() / "segmented_maxsim_cpp"
    shutil.copytree(source, tmp_path / "segmented_maxsim_cpp")  # a copy: the shared cache is left alone
    lock = tmp_path / "segmented_maxsim_cpp" / "lock"
    lock.touch()  # what torch's FileBaton leaves when its process is killed mid-build
    # A fresh process, as after a crash (torch would wait for this file forever).
    completed = subprocess.run(
        [sys.executable, "-c", LOAD_EXTENSION], env={**ENV, "TORCH_EXTENSIONS_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert not lock.exists()
    notes = [line.strip() for line in completed.stderr.splitlines() if "left by a process killed" in line]
    assert notes == [f"note: removed {lock}, left by a process killed while compiling segmented_maxsim_cpp"]


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_next_writer_removes_temporaries_of_killed_processes_and_keeps_live_ones(tmp_path, capfd):
    dead, alive = dead_pid(), os.getpid()
    stale_dir = tmp_path / f".index.tmp-{dead}-k1ll3d00"  # what atomic_dir leaves when killed mid-build
    stale_dir.mkdir()
    (stale_dir / "passages.jsonl").write_text("half")
    stale_old = tmp_path / f".index.tmp-{dead}-old"  # killed between the two renames
    stale_old.mkdir()
    live_dir = tmp_path / f".index.tmp-{alive}-wr1t1ng0"  # a live process is writing it
    live_dir.mkdir()
    other = tmp_path / f".corpus.tmp-{dead}-n0tm1ne0"  # another target's temporary: its own writer clears it
    other.write_text("x")
    capfd.readouterr()
    build_index(TINY_PASSAGES, tmp_path / "index", parts=["bm25"])
    assert not stale_dir.exists() and not stale_old.exists()
    assert live_dir.is_dir() and other.exists() and (tmp_path / "index" / "manifest.json").is_file()
    notes = [line.strip() for line in capfd.readouterr().err.splitlines() if "killed" in line]
    assert len(notes) == 1 and notes[0].startswith(f"note: removed 2 temporaries in {tmp_path} left by killed")
    assert stale_dir.name in notes[0] and stale_old.name in notes[0]

    stale_file = tmp_path / f".report.json.tmp-{dead}-abc"  # a single file written through atomic_file
    stale_file.write_text("{")
    write_json_atomic(tmp_path / "report.json", {"ok": True})
    assert not stale_file.exists() and json.loads((tmp_path / "report.json").read_text()) == {"ok": True}
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == sorted(
        [live_dir.name, other.name]
    )


def test_scratch_directories_of_killed_processes_are_removed(tmp_path):
    stale = tmp_path / f"ragdistill-trainer-{dead_pid()}-x1"
    (stale / "checkpoint-1").mkdir(parents=True)
    live = tmp_path / f"ragdistill-trainer-{os.getpid()}-x2"
    live.mkdir()
    unrelated = tmp_path / "ragdistill-trainer-notapid"
    unrelated.mkdir()
    with scratch_dir("ragdistill-trainer-", tmp_path) as scratch:
        assert scratch.name.startswith(f"ragdistill-trainer-{os.getpid()}-") and scratch.is_dir()
        assert not stale.exists() and live.is_dir() and unrelated.is_dir()
    assert not scratch.exists()


def run_and_kill(command: list[str], cwd: Path, when: Callable[[], bool], tmpdir: Path | None = None) -> None:
    """Start `command`, SIGKILL it as soon as `when()` holds, and check it was still running then."""
    env = {**ENV, "TMPDIR": str(tmpdir)} if tmpdir else ENV
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timeout_s = 300
    deadline = time.monotonic() + timeout_s
    try:
        while not when():
            assert process.poll() is None, f"{command} ended before it could be killed"
            assert time.monotonic() < deadline, f"{command} never reached the point to kill it"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()


def run_to_completion(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed


def visible(directory: Path) -> list[str]:
    """What a reader of `directory` sees (temporaries are hidden dot-names)."""
    return sorted(path.name for path in directory.iterdir() if not path.name.startswith("."))


@pytest.mark.slow
def test_index_build_killed_mid_stage_leaves_no_half_index(tmp_path, tiny_corpus_path):
    out = tmp_path / "index"
    command = [sys.executable, "-m", "retrieval.index", "--corpus", str(tiny_corpus_path), "--out", str(out),
               "--checkpoint", "minilm-colbert"]  # fmt: skip
    # Killed while colbert-ai encodes (its temporary index directory exists), i.e. mid-build.
    run_and_kill(command, Path.cwd(), lambda: any(path.name.startswith(".index.tmp") for path in tmp_path.iterdir()))
    assert visible(tmp_path) == []
    rerun = run_to_completion(command, Path.cwd())
    assert visible(tmp_path) == ["index"] and (out / "manifest.json").is_file()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # the killed temp is gone
    assert "left by killed processes: .index.tmp-" in rerun.stderr


@pytest.mark.slow
def test_training_killed_mid_stage_leaves_no_half_adapter(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"code {i}?", "completion": f"c{i}"}) + "\n" for i in range(16)))
    out = tmp_path / "adapters" / "x"
    base = [sys.executable, "-m", "finetune.train", "--data", str(pairs), "--model", "tiny-t5", "--out", str(out)]
    # Killed while training: the trainer's scratch directory (in the child's own TMPDIR) exists only then.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    run_and_kill([*base, "--epochs", "200"], Path.cwd(), lambda: any(scratch.glob("ragdistill-trainer-*")), scratch)
    assert not out.exists() or visible(out.parent) == []
    run_to_completion([*base, "--epochs", "1"], Path.cwd())
    assert {"adapter_config.json", "adapter_model.safetensors", "student.json"} <= set(visible(out))


@pytest.mark.slow
def test_compile_killed_mid_stage_resumes_without_redoing_finished_stages(tmp_path, tiny_corpus_path, tiny_causal_dir):
    command = [
        sys.executable, "-m", "programs.compile", "--out", str(tmp_path), "--name", "run",
        "--teacher", str(tiny_causal_dir), "--student", "tiny-t5", "--retriever", "bm25",
        "--corpus", str(tiny_corpus_path), "--index-dir", str(tmp_path / "index"), "--train-size", "12",
        "--trace-size", "2", "--dev-size", "2", "--test-size", "3", "--epochs", "30", "--threads", "1",
    ]  # fmt: skip
    manifest_path = tmp_path / "run" / "manifest.json"

    def stages_done() -> list[str]:
        try:
            return json.loads(manifest_path.read_text())["stages_done"]
        except (OSError, ValueError, KeyError):
            return []

    run_and_kill(command, Path.cwd(), lambda: "teacher" in stages_done())  # killed in the student stage
    killed = json.loads(manifest_path.read_text())
    assert killed["stages_done"] == ["index", "teacher"]
    assert visible(tmp_path / "run") == ["manifest.json", "teacher_program.json"]  # no half student
    teacher_mtime = (tmp_path / "run" / "teacher_program.json").stat().st_mtime_ns

    resumed = run_to_completion([*command, "--resume"], Path.cwd())
    assert "index: done in an earlier run, skipped" in resumed.stderr
    assert "teacher: done in an earlier run, skipped" in resumed.stderr
    manifest = json.loads(manifest_path.read_text())
    assert manifest["stages_done"] == ["index", "teacher", "student", "report"]
    assert {stage: manifest["timings"][stage] for stage in ("index", "teacher")} == {
        stage: killed["timings"][stage] for stage in ("index", "teacher")
    }
    assert (tmp_path / "run" / "teacher_program.json").stat().st_mtime_ns == teacher_mtime
    assert {"student", "student_program.json", "report"} <= set(visible(tmp_path / "run"))


def test_atomic_artifacts_get_the_mode_a_plain_write_gives(tmp_path: Path):
    plain_file, plain_dir = tmp_path / "plain.json", tmp_path / "plain"
    plain_file.write_text("{}")
    plain_dir.mkdir()
    write_json_atomic(tmp_path / "report.json", {"ok": True})
    with atomic_dir(tmp_path / "index") as building:
        (building / "part").write_text("x")
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == stat.S_IMODE(plain_file.stat().st_mode)
    assert stat.S_IMODE((tmp_path / "index").stat().st_mode) == stat.S_IMODE(plain_dir.stat().st_mode)
