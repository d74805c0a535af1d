"""`python -m programs.compile`: the command line of the compile pipeline (options generated from `CompileConfig`).

Progress lines go to stderr; stdout gets the closing table (each system's EM / F1 / latency) and the paths.
"""

from __future__ import annotations

from pathlib import Path

from core.cli import build_config, config_command
from programs.compile.config import CompileConfig
from programs.compile.pipeline import compile_run


def print_summary(manifest: dict) -> None:
    """One table at the end: each system's EM / F1 / latency, then where the artifacts are."""
    report = manifest.get("report", {})
    systems = report.get("systems", {})
    if systems and report.get("kind") == "program":
        print(f"{'system':32} {'score':>6} {'parse fail':>10} {'p50 s':>7} {'items/s':>8}")
        for name, metrics in systems.items():
            print(f"{name:32} {metrics['score']:6.1f} {metrics['parse_failures']:10d} {metrics['latency_p50_s']:7.3f} "
                  f"{metrics['items_per_s']:8.2f}")  # fmt: skip
    elif systems:
        print(f"{'system':32} {'EM':>6} {'F1':>6} {'p50 s':>7} {'answers/s':>10}")
        for name, metrics in systems.items():
            print(
                f"{name:32} {metrics['em']:6.1f} {metrics['f1']:6.1f} {metrics['latency_p50_s']:7.3f} "
                f"{metrics['answers_per_s']:10.2f}"
            )
    timings = ", ".join(f"{stage} {seconds:.0f}s" for stage, seconds in manifest.get("timings", {}).items())
    print(f"run: {manifest['settings']['out']}/{manifest['name']}  ({timings})")
    if report.get("path"):
        print(f"report: {Path(manifest['settings']['out']) / manifest['name'] / report['path']}")


@config_command(CompileConfig, max_content_width=120)
def main(**options) -> None:
    """Compile a DSPy program with a teacher LM and distil it into a LoRA student.

    With no options: the bundled fictional world, a ColBERT index, the offline SmolLM2 teacher,
    BootstrapFewShot, BootstrapFinetune into the default student, and a report on the test split.

    Your own program: --program my_pkg.my_module:build --metric my_pkg.my_module:metric
    --train my_train.jsonl --dev my_dev.jsonl --test my_test.jsonl (rows: the program's inputs and labels).
    """
    print_summary(compile_run(build_config(CompileConfig, options)))


if __name__ == "__main__":
    main()
