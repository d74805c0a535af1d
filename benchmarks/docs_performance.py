"""The sections of `docs/performance.md`: training, indexing, retrieval, serving, overload, the engine, traces.

Every figure comes from a benchmark's result file in `docs/results/` (`python -m benchmarks.<name> --out ...`).
Timings are wall-clock seconds on whatever else the machine ran; each benchmark also measures the peer a
figure is a ratio against in the same run (the encoder pass for the index build, stock transformers for the
engine), and the ratios are the figures to compare across machines.

Simplified: one table per benchmark, with the figures the benchmark's docstring describes; the result file
holds every other figure.
"""

from __future__ import annotations

from benchmarks.docs_tables import Section, Source, num, pct, table


def render_training(results: dict[str, dict]) -> list[str]:
    doc = results["train.json"]
    lines = [f"{doc['student']}: {doc['train_pairs']} training pairs, {doc['steps']} steps of batch "
             f"{doc['batch_size']}, {doc['test_questions']} test questions, {doc['torch_threads']} torch threads.",
             ""]  # fmt: skip
    rows = [
        [name, v["precision"], str(v["lora_layers"] or "all"), num(v["seconds_per_example"], 3),
         num(v["cpu_seconds_per_example"], 3), num(v.get("em")), num(v.get("f1"))]
        for name, v in doc["variants"].items()
    ]  # fmt: skip
    header = ["Variant", "precision", "LoRA layers", "s per example", "CPU s per example", "EM", "F1"]
    lines += table(header, rows)
    shares = doc.get("padding_share") or {}
    if shares:
        padding = ", ".join(f"{order.replace('_', ' ')} batches {pct(share)}" for order, share in shares.items())
        lines += [
            f"{num(doc.get('tokens_per_pair_mean'))} tokens per pair; padding per epoch: {padding}.",
            "",
        ]
    return lines


def _ratios(build: dict) -> str:
    return f"{num(build.get('ratio_to_encoder_pass'), 2)}x ({num(build.get('cpu_ratio_to_encoder_pass'), 2)}x)"


def render_indexing(results: dict[str, dict]) -> list[str]:
    rows = []
    for file, doc in results.items():
        encode, build = doc["encoder_pass"], doc["build"]
        after, before = build.get("after", {}), build.get("before")
        search = doc.get("search") or {}
        rows.append([
            file.removesuffix(".json"), str(doc["settings"]["passages"]), doc["settings"]["checkpoint"],
            f"{num(encode['encode_s'], 0)} ({num(encode['encode_cpu_s'], 0)})",
            f"{num(after.get('build_s'), 0)} ({num(after.get('build_cpu_s'), 0)})",
            _ratios(after),
            _ratios(before) if before else "n/a",
            pct(search.get("top10_equal")),
        ])  # fmt: skip
    header = ["Corpus", "passages", "checkpoint", "encoder pass s (CPU s)", "build s (CPU s)",
              "build / encoder pass (CPU)", "colbert-ai's own indexer / encoder pass (CPU)",
              "same top-10 with both indexes"]  # fmt: skip
    return table(header, rows)


def render_retrieval(results: dict[str, dict]) -> list[str]:
    doc = results["retrieval.json"]
    rows = []
    for dataset, result in doc["datasets"].items():
        if "skipped" in result:
            continue
        for name, figures in result["retrievers"].items():
            rows.append([dataset, str(result["passages"]), name, pct(figures.get("recall@5")),
                         pct(figures.get("recall@10")), num(figures.get("mrr@10"), 3),
                         num((figures.get("latency_ms") or {}).get("p50"))])  # fmt: skip
    lines = table(["Dataset", "passages", "retriever", "recall@5", "recall@10", "MRR@10", "p50 ms"], rows)
    load = doc.get("load_test")
    if load:
        lines += [f"Search server ({load['retriever']} on {load['dataset']}): {load['clients']} clients for "
                  f"{num(load['seconds'], 0)} s, {num(load['requests_per_s'])} requests/s, p50 "
                  f"{num((load.get('latency_ms') or {}).get('p50'))} ms, {load['errors']} errors.", ""]  # fmt: skip
    return lines


def render_serving(results: dict[str, dict]) -> list[str]:
    doc = results["serve.json"]
    rows = [
        [str(level["clients"]), num(level["requests_per_s"], 2), num(level["p50_ms"], 0), num(level["p95_ms"], 0),
         num(level["p99_ms"], 0), str(level["errors"])]
        for level in doc["levels"]
    ]  # fmt: skip
    lines = table(["Clients", "answers/s", "p50 ms", "p95 ms", "p99 ms", "errors"], rows)
    lines += [f"Service: {doc['service']['workers']} workers, line of {doc['service']['max_waiting']}; peak RSS "
              f"{num(doc.get('service_peak_rss_mb'), 0)} MB; the compiled teacher answers "
              f"{num(doc.get('teacher_answers_per_s'), 3)} questions/s one at a time "
              f"(student over teacher: {num(doc.get('student_over_teacher_throughput'), 2)}x).", ""]  # fmt: skip
    return lines


def render_overload(results: dict[str, dict]) -> list[str]:
    doc = results["overload.json"]
    rows = []
    for service, figures in doc["services"].items():
        reference = figures["reference"]
        rows.append([service, "1", "polite (reference)", _statuses(reference["statuses"]), "1.00",
                     num(reference["p99_answer_s"], 2), num(reference["health_p99_ms"], 0), "", ""])  # fmt: skip
        for case in figures["cases"]:
            rows.append([service, str(case["clients"]), case["kind"], _statuses(case["statuses"]),
                         num(case["goodput"], 2), num(case["p99_answer_s"], 2), num(case["health_p99_ms"], 0),
                         num(case["recovery_s"], 1), num(case["recovery_answer_ratio"], 2)])  # fmt: skip
    header = ["Service", "clients", "kind", "statuses", "goodput", "p99 answer s", "/health p99 ms",
              "recovery s", "recovery answer / normal"]  # fmt: skip
    return table(header, rows)


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{code}: {count}" for code, count in sorted(counts.items()))


def render_engine(results: dict[str, dict]) -> list[str]:
    doc = results["engine.json"]
    lines = [f"{doc['student']}; {doc['data']}.", ""]
    rows = [
        [name, num(row["answers_per_s"], 2), num(row["latency_p50_s"], 3), num(row["speedup_vs_stock"], 2),
         num(row["em"]), f"{row['identical_to_stock']} of {doc['questions']}"]
        for name, row in (doc.get("student_systems") or {}).items()
    ]  # fmt: skip
    if rows:
        lines += table(["Student engine", "answers/s", "p50 s", "vs stock", "EM", "answers as stock"], rows)
    rows = [
        [name, num(row["questions_per_s_threads1"], 3), num(row["questions_per_s_threads4"], 3),
         num(row["speedup_threads4"], 2), f"{row['identical_answers_threads1_vs_4']} of {doc['teacher_questions']}"]
        for name, row in (doc.get("teacher") or {}).items()
    ]  # fmt: skip
    if rows:
        lines += table(["Teacher engine", "questions/s, 1 thread", "4 threads", "speed-up", "same answers"], rows)
    return lines


def render_traces(results: dict[str, dict]) -> list[str]:
    doc = results["traces.json"]
    rows = [
        [what, str(doc[key]["teacher_lms_built"]), str(doc[key]["teacher_calls"]), num(doc[key]["student_stage_s"])]
        for what, key in (("with the teacher", "source"), ("--traces-from the first run", "traces_from"))
    ]
    lines = [f"Teacher {doc['teacher']}, student {doc['student']}, {doc['train_size']} training questions.", ""]
    return lines + table(["Compile", "teacher LMs built", "teacher calls", "student stage s"], rows)


SECTIONS = [
    Section(
        "Training",
        "LoRA on the student per speed lever: every variant trains the same base on the same pairs for the same "
        "steps, then answers the same held-out questions.",
        (
            Source(
                "train.json",
                "python -m benchmarks.train --variants fp32,bf16 --batch-size 4 --out docs/results/train.json",
            ),
        ),  # fmt: skip
        render_training,
    ),
    Section(
        "Indexing",
        "The ColBERT + BM25 build against one pass of the encoder over the same passages (the floor of any "
        "build), and, with `--before`, colbert-ai's own indexer, which encodes a small corpus twice.",
        (
            Source("index-world.json", "python -m benchmarks.index --before --out docs/results/index-world.json"),
            Source(
                "index-hotpotqa.json",
                "python -m benchmarks.index --corpus data/samples/hotpotqa_dev_sample_corpus.jsonl "
                "--questions data/samples/hotpotqa_dev_sample.jsonl --out docs/results/index-hotpotqa.json",
            ),
        ),  # fmt: skip
        render_indexing,
    ),
    Section(
        "Retrieval",
        "Every retriever on every dataset (recall of gold passages, one search per question), and the search "
        "server under load.",
        (Source("retrieval.json", "python -m benchmarks.retrieval --out docs/results/retrieval.json"),),
        render_retrieval,
    ),
    Section(
        "Serving",
        "The QA service of the default run (`python -m programs.serve runs/world`) under 1 and 8 clients on "
        "loopback, against the run's compiled teacher answering one question at a time.",
        (
            Source(
                "serve.json",
                "python -m benchmarks.serve runs/world --clients 1,8 --out docs/results/serve.json",
            ),
        ),  # fmt: skip
        render_serving,
    ),
    Section(
        "Overload",
        "For each service of the default run: one polite client sets the reference rate (goodput 1.0); then 8, 32 "
        "and 64 clients ask at once for 30 s, polite ones honouring `Retry-After`, impatient ones retrying at once. "
        "Admission answers only 200 or 503; recovery is the time from the burst's end to the next answer, and "
        "that answer's latency over a normal one.",
        (Source("overload.json", "python -m benchmarks.overload runs/world --out docs/results/overload.json"),),
        render_overload,
    ),
    Section(
        "Generation engine",
        "The default run's student on every backend and precision (the same prompts, one at a time unless batched), "
        "and the offline teacher with 1 and 4 threads (the engine batches concurrent calls).",
        (Source("engine.json", "python -m benchmarks.engine --run runs/world --out docs/results/engine.json"),),
        render_engine,
    ),
    Section(
        "Reusing teacher traces",
        "A compile with the teacher against its `--traces-from` twin: the twin makes no teacher call.",
        (Source("traces.json", "python -m benchmarks.traces --out docs/results/traces.json"),),
        render_traces,
    ),
]
"""The sections of docs/performance.md, in page order."""
