"""The sections of `docs/results.md`: answer quality of compiled runs (default run, variants, HotpotQA, SQuAD).

Every figure comes from a `python -m benchmarks.run` result in `docs/results/` (a run's manifest, its own
report and, with `--eval-limit`, a larger evaluation of its students), or from `benchmarks.hops` (the multi-hop
retrieval ceiling). `SECTIONS` lists them in page order; each says which files it reads and the command that
writes each one.

Simplified: variants are compared on the first 60 test questions (16 of them two-hop: one answer moves two-hop
EM by 6.2), so differences of a few points are noise; the tables say how many questions each figure covers.
"""

from __future__ import annotations

from benchmarks.docs_tables import Section, Source, em_by_hops, num, pct, table
from programs.evaluate.report_tables import reader_settings

STUDENT, STUDENT_BM25, CLOSED_BOOK, TEACHER = (
    "student_distilled", "student_distilled@bm25", "student_distilled_closed_book", "teacher_compiled",
)  # fmt: skip
HOTPOTQA = "data/samples/hotpotqa_dev_sample"
HOTPOTQA_ARGS = (
    f"--corpus {HOTPOTQA}_corpus.jsonl --index-dir indexes/hotpotqa --train '{HOTPOTQA}.jsonl[:100]' "
    f"--dev '{HOTPOTQA}.jsonl[100:158]' --test '{HOTPOTQA}.jsonl[158:]'"
)
SQUAD = "data/samples/squad_v1.1_dev_sample"
SQUAD_ARGS = (
    f"--corpus {SQUAD}_corpus.jsonl --index-dir indexes/squad --train '{SQUAD}.jsonl[:200]' "
    f"--dev '{SQUAD}.jsonl[200:250]' --test '{SQUAD}.jsonl[250:]'"
)
VARIANTS = {
    "default": ("the default (100 questions, 2 epochs, LoRA capped at 9 minutes)", None),
    "rag": ("single-hop program", "--program rag"),
    "train-80": ("80 training questions, 14 minutes of LoRA", "--train-size 80 --train-minutes 14"),
    "epochs-8": ("8 epochs, no time cap", "--epochs 8 --train-minutes 0"),
    "train-120-epochs-1": ("120 questions, 1 epoch", "--train-size 120 --epochs 1"),
    "train-240-epochs-0.5": ("240 questions, half an epoch", "--train-size 240 --epochs 0.5"),
    "train-100": ("100 questions, 3 epochs, no time cap", "--train-size 100 --train-minutes 0"),
    "train-200": ("200 questions, 2 epochs, no time cap", "--train-size 200 --train-minutes 0"),
}
"""Variant name -> (what it changes, its compile options; None: the default run, recorded)."""


def variant_command(name: str) -> str:
    """The command that compiles a variant (or records the default run) and scores it on 60 questions."""
    out = f"--out docs/results/variant-{name}.json"
    options = VARIANTS[name][1]
    if options is None:
        return _record_source(f"variant-{name}.json", "runs/world", eval_limit=60).command
    if name == "train-200":  # the long run below compiles it
        return _record_source(f"variant-{name}.json", "runs/world-200", eval_limit=60).command
    return f"python -m benchmarks.run --eval-limit 60 {out} -- --name world-{name} {options}"


def _minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{int(seconds // 60)} min {int(seconds % 60)} s"


def run_summary(doc: dict) -> list[str]:
    """One compiled run: how it was built and what it cost, then its systems on its own test questions."""
    timings, training = doc.get("timings") or {}, doc.get("training") or {}
    stages = ", ".join(f"{stage} {num(seconds, 0)} s" for stage, seconds in timings.items())
    lines = [
        f"`{doc.get('compile_command') or 'recorded: ' + doc.get('run', '?')}`: program {doc.get('program')} "
        f"({doc.get('program_choice')}), teacher {doc.get('teacher')}, student {doc.get('student')}, retriever "
        f"{doc.get('retriever')}. Compile {_minutes(doc.get('compile_wall_s'))} ({stages}); LoRA "
        f"{num(training.get('train_seconds'), 0)} s, {num(training.get('epochs_completed'), 2)} epochs in "
        f"{training.get('precision', 'n/a')} on {(doc.get('targets') or {}).get('train_records', 'n/a')} records.",
        "",
    ]
    systems = doc["report"]["systems"]
    rows = [
        [name, str(m.get("questions")), em_by_hops(m), num(m.get("f1")), pct(m.get("all_gold_recall")),
         num(m.get("answers_per_s"), 2)]
        for name, m in systems.items()
    ]  # fmt: skip
    lines += table(["System", "questions", "EM (one-hop / two-hop)", "F1", "all gold in context", "answers/s"], rows)
    if doc["report"].get("speed_ratio"):
        lines += [f"The distilled student answers {doc['report']['speed_ratio']:.2f}x as many questions per second as "
                  "the compiled teacher.", ""]  # fmt: skip
    return lines


def evaluation_summary(doc: dict) -> list[str]:
    """A run's students scored on more questions (`--eval-limit`): EM with its interval, hops, error kinds."""
    evaluation = doc.get("evaluation")
    if not evaluation:
        return []
    rows = []
    for name, m in evaluation["systems"].items():
        errors, found = m.get("errors") or {}, m.get("gold_found_by_hop") or {}
        low, high = m.get("em_ci") or (None, None)
        rows.append([name, str(m.get("questions")), f"{em_by_hops(m)} [{num(low)}, {num(high)}]",
                     pct(m.get("all_gold_recall")), str(found.get("hop_2", "n/a")),
                     str(errors.get("reading_error", "n/a")), str(errors.get("retrieval_miss", "n/a"))])  # fmt: skip
    header = ["System", "questions", "EM (one-hop / two-hop) [95% CI]", "all gold in context",
              "gold passages found by hop 2", "reading errors", "retrieval misses"]  # fmt: skip
    return [f"Scored by `{evaluation['command']}`:", "", *table(header, rows)]


def render_runs(results: dict[str, dict]) -> list[str]:
    lines = []
    for file, doc in results.items():
        lines += [f"**{file.removesuffix('.json')}**", "", *run_summary(doc), *evaluation_summary(doc)]
    return lines


def render_variants(results: dict[str, dict]) -> list[str]:
    rows = []
    for name, (what, options) in VARIANTS.items():
        doc = results.get(f"variant-{name}.json")
        if doc is None:
            continue
        student = (doc.get("evaluation") or {}).get("systems", {}).get(STUDENT, {})
        found = (student.get("gold_found_by_hop") or {}).get("hop_2")
        two_hop = (student.get("by_hops") or {}).get("two_hop", {}).get("questions", "n/a")
        second_hop = "no second hop" if found is None else f"{found} of {two_hop}"
        training = doc.get("training") or {}
        rows.append([what, f"`{options}`" if options else "", num(training.get("train_seconds"), 0),
                     num(training.get("epochs_completed"), 2), em_by_hops(student), second_hop,
                     num(student.get("answers_per_s"), 2)])  # fmt: skip
    header = ["Variant", "compile options", "LoRA s", "epochs", "EM (one-hop / two-hop)",
              "two-hop questions whose second hop found a gold passage", "answers/s"]  # fmt: skip
    return table(header, rows)


def render_dataset_runs(results: dict[str, dict]) -> list[str]:
    rows = []
    for file, doc in results.items():
        systems = doc["report"]["systems"]
        student, teacher = systems.get(STUDENT, {}), systems.get(TEACHER, {})
        trained_on = (doc.get("data") or {}).get("train", {}).get("questions", "n/a")
        rows.append([file.removesuffix(".json"), str(doc.get("program", "n/a")), str(trained_on),
                     f"{num(student.get('em'))} / {num(student.get('f1'))}",
                     num(systems.get(STUDENT_BM25, {}).get("em")), num(systems.get(CLOSED_BOOK, {}).get("em")),
                     f"{num(teacher.get('em'))} ({teacher.get('questions', 'n/a')})",
                     pct(student.get("all_gold_recall")), pct(student.get("answer_in_context")),
                     f"{num(student.get('answers_per_s'), 2)} / {num(teacher.get('answers_per_s'), 2)}"])  # fmt: skip
    header = ["Run", "program", "training questions", "student EM / F1", "student with BM25 EM", "closed-book EM"]
    header += ["teacher EM (questions)", "all gold in context", "answer in context", "answers/s student / teacher"]
    return table(header, rows)


def render_hops(results: dict[str, dict]) -> list[str]:
    lines = []
    for doc in results.values():
        rows = [
            [variant, pct(figures.get("all_gold_one_hop")), pct(figures.get("all_gold_two_hop"))]
            for variant, figures in doc["variants"].items()
        ]
        lines += [f"{doc['dataset']}, {doc['retriever']}, k={doc['k']}, {doc['questions']} questions:", ""]
        lines += table(["How the context is filled", "all gold (one-hop)", "all gold (two-hop)"], rows)
    return lines


def _percent(value: float | None) -> str:
    """A figure already in percent (None: the programs have no choice-valued output)."""
    return "n/a" if value is None else f"{num(value)}%"


def render_distill_any(results: dict[str, dict]) -> list[str]:
    """Users' own programs: the teacher's metric and the distilled student's, per program."""
    lines = []
    for doc in results.values():
        rows = [
            [name + (" (bundled example)" if figures["tuned_on"] else " (held out)"),
             num(figures["teacher"]["score"]), num(figures["student"]["score"]),
             num(figures["student_over_teacher"]), str(figures["student"]["parse_failures"]),
             _percent(figures["choice_validity"]), num(figures["train_seconds"], 0)]
            for name, figures in doc["programs"].items()
        ]  # fmt: skip
        lines += [f"Student {doc['student']}, {num(doc['epochs'], 0)} epochs, default training settings:", ""]
        lines += table(["Program", "teacher", "distilled", "% of teacher", "parse failures", "valid choices",
                        "training s"], rows)  # fmt: skip
    return lines


def render_multihop(results: dict[str, dict]) -> list[str]:
    """The multi-hop program's student: answers, whether its context holds every gold passage, what each hop did."""
    rows = []
    for doc in results.values():
        student, hops = doc["student"], doc["student"].get("hop_query_recall") or {}
        searched = ", ".join(f"{hop.replace('_', ' ')}: {v['searched']} ({v['found']} found gold)"
                             for hop, v in hops.items())  # fmt: skip
        errors = student["gold_errors"]
        reader = ", ".join(reader_settings(doc.get("program") or {})) or "n/a"
        rows.append([doc["dataset"], doc["fusion"], reader, str(student["questions"]), num(student["em"]),
                     num(student["f1"]), pct(student["all_gold_in_context"]),
                     pct(doc["question_only"]["all_gold_in_context"]), searched,
                     str(errors.get("reading_error", 0)), str(errors.get("retrieval_error", 0)),
                     num(doc["minutes"]["compile"], 1)])  # fmt: skip
    header = ["Data", "fusion", "reader settings on", "test questions", "EM", "F1", "all gold in context",
              "question only, same budget", "hops searched", "reading errors", "retrieval errors",
              "compile min"]  # fmt: skip
    return table(header, rows)


def render_unanswerable(results: dict[str, dict]) -> list[str]:
    """The RAG student trained without and with unanswerable rows, on the same test questions."""
    lines = []
    for doc in results.values():
        rows = [
            [name.replace("_", " "), f"{run['answerable']} + {run['unanswerable']}", num(run["answerable_em"]),
             pct(run["abstention_recall"]), pct(run["abstention_precision"]), num(run["minutes"], 1)]
            for name, run in doc["runs"].items()
        ]  # fmt: skip
        lines += table(["Training data", "test questions (answerable + not)", "answerable EM",
                        "unanswerable refused", "refusals that were right", "compile min"], rows)  # fmt: skip
        lines += [f"Answerable EM drop: {num(doc.get('answerable_em_drop'))}.", ""]
    return lines


def _run_source(file: str, compile_options: str, *, eval_limit: int | None = None) -> Source:
    evaluate = f" --eval-limit {eval_limit}" if eval_limit else ""
    return Source(file, f"python -m benchmarks.run{evaluate} --out docs/results/{file} -- {compile_options}")


def _record_source(file: str, run_dir: str, *, eval_limit: int | None = None) -> Source:
    """The source of a run compiled beforehand and recorded from `run_dir` (`benchmarks.run --record`)."""
    evaluate = f" --eval-limit {eval_limit}" if eval_limit else ""
    return Source(file, f"python -m benchmarks.run --record {run_dir}{evaluate} --out docs/results/{file}")


SECTIONS = [
    Section(
        "The default run and the long run",
        "`make run` compiles the default (`python -m programs.compile`: 100 training questions, 2 epochs, LoRA "
        "capped at 9 minutes); its report scores 40 test questions, and the students are then scored on 200. The "
        "long run trains on 200 questions for 2 epochs without the cap; the variant trained on 100 questions for 3 "
        "epochs without the cap (below, compiled when 3 epochs were the default) and the one trained on 150 questions "
        "for 2 epochs with LoRA on the top 15 of 30 layers only (about the training time of 100 questions on all "
        "layers) are scored on the same 200. default-run-fp32 is the default compiled on a CPU without bf16 "
        "instructions (no AVX-512), where LoRA trains in fp32 and the cap stops it before 2 epochs; its index was "
        "reused, so its compile has no index stage.",
        (
            _run_source("default-run.json", "--name world", eval_limit=200),
            _record_source("default-run-fp32.json", "runs/default-fp32", eval_limit=200),
            _record_source("world-train-100.json", "runs/world-train-100", eval_limit=200),
            _run_source("world-200.json", "--name world-200 --train-size 200 --train-minutes 0", eval_limit=200),
            _record_source("world-150-lora-15.json", "runs/world-150-lora-15", eval_limit=200),
        ),
        render_runs,
    ),
    Section(
        "Variants of the default run",
        "Each variant compiled once (seed 0) and its students scored on the first 60 test questions (44 one-hop, "
        "16 two-hop: one two-hop answer moves two-hop EM by 6.2).",
        tuple(Source(f"variant-{name}.json", variant_command(name)) for name in VARIANTS),
        render_variants,
    ),
    Section(
        "Real questions: HotpotQA",
        "The HotpotQA sample in `data/samples/` (198 dev questions, 1,944 distractor paragraphs), all two-hop: "
        "hotpotqa-rag trains on 40 of the first 100 questions (validation drawn from the next 58), "
        "hotpotqa-multihop, the multi-hop run of the fused-search benchmark below, on all of the first 158; both are "
        "tested on the last 40. "
        "Answers are scored as the official HotpotQA script does (yes/no only match exactly).",
        (
            _record_source("hotpotqa-multihop.json", "runs/hotpotqa/hotpotqa-rrf"),
            _run_source(
                "hotpotqa-rag.json", f"--name hotpotqa-rag {HOTPOTQA_ARGS} --program rag --baseline-test-size 1"
            ),
        ),
        render_dataset_runs,
    ),
    Section(
        "HotpotQA: the retrieval ceiling of the multi-hop program",
        "No LM: the share of questions whose final context holds both supporting paragraphs when searching with the "
        "question alone, and with the query targets the student is taught (the ceiling a perfect student reaches).",
        (
            Source(
                "hops-hotpotqa.json",
                "python -m benchmarks.hops --dataset hotpotqa --retriever colbert "
                "--out docs/results/hops-hotpotqa.json",
            ),
        ),  # fmt: skip
        render_hops,
    ),
    Section(
        "Multi-hop: fused search on real and bundled questions",
        "The multi-hop program compiled end to end: every hop searches with the student's query fused with the "
        'question (`--fusion rrf`). "question only" searches with the question alone for as many passages as the '
        "student's context held; a reading error had every gold passage in its context, a retrieval error did not.",
        (
            Source(
                "multihop-hotpotqa.json",
                "python -m benchmarks.multihop --baseline-test-size 1 --run-dir runs/hotpotqa "
                "--out docs/results/multihop-hotpotqa.json",
            ),
        ),  # fmt: skip
        render_multihop,
    ),
    Section(
        "Unanswerable questions",
        "The RAG program on SQuAD, trained without and with a quarter of unanswerable rows (HotpotQA questions about "
        "other articles, added the SQuAD v2 way by `data.unanswerable`); both answer the same test questions.",
        (Source("unanswerable.json", "python -m benchmarks.unanswerable --out docs/results/unanswerable.json"),),
        render_unanswerable,
    ),
    Section(
        "Your own DSPy programs",
        "Programs that are not retrieve-then-answer, distilled by the stock `dspy.BootstrapFinetune` with a recorded "
        "teacher that is right on every example: 48 training and 40 held-out examples each. The held-out programs "
        "(`benchmarks/heldout_programs.py`) were not used to tune the student's settings.",
        (Source("distill-any.json", "python -m benchmarks.distill_any --out docs/results/distill-any.json"),),
        render_distill_any,
    ),
    Section(
        "Real questions: SQuAD",
        "The SQuAD v1.1 sample in `data/samples/` (810 single-hop questions on one article, 54 paragraphs): 200 "
        "training, 50 validation questions, the first 40 of the rest as the test questions.",
        (_run_source("squad-run.json", f"--name squad {SQUAD_ARGS}"),),
        render_dataset_runs,
    ),
]
"""The sections of docs/results.md, in page order."""
