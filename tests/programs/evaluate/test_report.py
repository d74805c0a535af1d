"""programs.evaluate.report: the three report files, their sections, escaping, absent systems, and a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from programs.evaluate.report import write_report
from programs.evaluate.report_tables import SYSTEMS
from programs.evaluate.scoring import AnswerRecord, score_system, worst_questions

HOSTILE = '<script>alert("x")</script> | & more'


def records(predictions: list[str], latency_s: float, *, retrieve: bool = True) -> list[AnswerRecord]:
    golds = [["Paris"], ["Mira Voss", "Voss"], ["1742"]]
    questions = ["Capital of France?", HOSTILE, "When was Varn founded?"]
    return [
        AnswerRecord(
            qid=f"q{i}",
            question=question,
            gold=gold,
            prediction=prediction,
            latency_s=latency_s * (i + 1),
            tokens_in=100,
            tokens_out=5,
            retrieved_pids=[f"p{i}"] if retrieve else [],
            retrieved_titles=[f"Title {i}"] if retrieve else [],
            gold_pids=[f"p{i}"],
            retrieved_texts=[f"Title {i} | {gold[0]} is here."] if retrieve else [],
        )
        for i, (question, gold, prediction) in enumerate(zip(questions, golds, predictions, strict=True))
    ]


def full_report() -> dict:
    teacher = records(["Paris", "Mira Voss", "1742"], 2.0)
    student = records(["Paris", "<b>Voss</b> & co", "1700"], 0.2)
    systems = {
        "teacher_zero_shot": records(["Paris", "Voss", "no idea"], 1.5),
        "teacher_compiled": teacher,
        "student_base": records(["Lyon", "", "1700"], 0.2),
        "student_distilled": student,
        "student_distilled_closed_book": records(["Paris", "Bob", "1742"], 0.1, retrieve=False),
    }
    return {
        "name": "unit <run>",
        "systems": {name: score_system(recs) for name, recs in systems.items()},
        "retrieval": {
            "colbert": {
                "recall@1": 0.5,
                "recall@5": 0.8,
                "recall@10": 0.9,
                "mrr@10": 0.6,
                "ndcg@10": 0.65,
                "latency_ms": {"p50": 12.0, "p95": 20.0, "mean": 13.0},
                "questions": 3,
            },
            "bm25": {
                "recall@1": 0.4,
                "recall@5": 0.7,
                "recall@10": 0.75,
                "mrr@10": 0.5,
                "ndcg@10": 0.55,
                "latency_ms": {"p50": 1.0, "p95": 2.0, "mean": 1.2},
                "questions": 3,
            },
        },
        "models": {"teacher": "smollm2", "student": "tiny-t5"},
        "data": {"test.jsonl": "ab" * 32},
        "worst_questions": worst_questions(student, teacher),
    }


def test_write_report_writes_all_figures_to_json(tmp_path):
    out = write_report(full_report(), tmp_path / "report")
    assert sorted(path.name for path in out.iterdir()) == ["index.html", "report.json", "report.md"]
    saved = json.loads((out / "report.json").read_text())
    assert list(saved["systems"]) == list(SYSTEMS)
    for metrics in saved["systems"].values():
        assert {"em", "em_ci", "f1", "f1_ci", "rouge_l", "bleu", "latency_p50_s", "answers_per_s"} <= set(metrics)
    assert saved["systems"]["teacher_compiled"]["em"] == pytest.approx(100.0)
    assert saved["retrieval"]["colbert"]["recall@5"] == 0.8
    assert saved["models"]["student"] == "tiny-t5" and saved["data"]["test.jsonl"] == "ab" * 32
    # Teacher latencies 2, 4, 6 s (3 answers / 12 s); student 0.2, 0.4, 0.6 s (3 / 1.2 s): 10x as fast.
    assert saved["speed_ratio"] == pytest.approx(10.0)
    # The student missed q1 and q2 where the teacher was exact (gap 100 each): ties go by qid.
    assert [row["qid"] for row in saved["worst_questions"]] == ["q1", "q2"]


def test_markdown_has_every_section_and_escapes_table_pipes(tmp_path):
    markdown = (write_report(full_report(), tmp_path) / "report.md").read_text()
    for heading in ("## Systems", "## Retrieval", "## Error analysis", "## Worst questions", "## Models and data"):
        assert heading in markdown
    assert (
        "| System | questions | EM [95% CI] | F1 [95% CI] | ROUGE-L | BLEU | p50 latency (s) | answers/s |" in markdown
    )
    assert re.search(
        r"\| teacher_compiled \| \d+ \| 100\.0 \[100\.0, 100\.0\] \| 100\.0 \[100\.0, 100\.0\] \|", markdown
    )
    assert "| Retriever | recall@1 | recall@5 | recall@10 | MRR@10 | nDCG@10 | p50 latency (ms) |" in markdown
    assert "| colbert | 50.0 | 80.0 | 90.0 | 0.600 | 0.650 | 12.0 |" in markdown
    assert "10.00x as many questions per second" in markdown
    # A pipe in a question does not break the table; HTML in user text shows literally in an issue.
    assert '&lt;script&gt;alert("x")&lt;/script&gt; \\| &amp; more' in markdown
    assert "<b>" not in markdown


def test_html_embeds_every_plot_and_escapes_user_text(tmp_path):
    page = (write_report(full_report(), tmp_path) / "index.html").read_text()
    for plot_id in ("plot-quality", "plot-latency", "plot-recall"):
        assert re.search(rf'<img id="{plot_id}" alt="[^"]+" src="data:image/png;base64,', page)
    for heading in ("Systems", "Retrieval", "Error analysis", "Worst questions (student vs teacher)"):
        assert f"<h2>{heading}</h2>" in page
    assert "<script>" not in page and "<b>Voss</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<title>Evaluation: unit &lt;run&gt;</title>" in page


def test_absent_systems_and_retrieval_are_left_out(tmp_path):
    report = full_report()
    report["systems"] = {name: report["systems"][name] for name in ("student_distilled", "teacher_zero_shot")}
    del report["retrieval"], report["worst_questions"]
    out = write_report(report, tmp_path)
    markdown, page = (out / "report.md").read_text(), (out / "index.html").read_text()
    assert "teacher_compiled" not in markdown and "student_base" not in markdown
    assert markdown.index("| teacher_zero_shot |") < markdown.index("| student_distilled |")
    assert "## Retrieval" not in markdown and "## Worst questions" not in markdown
    assert 'id="plot-quality"' in page and 'id="plot-recall"' not in page
    assert json.loads((out / "report.json").read_text())["speed_ratio"] is None


def test_question_type_hop_and_abstention_sections(tmp_path):
    def answered(qid, gold, prediction, hops, gold_pids, hop_pids):
        retrieved = list(dict.fromkeys(pid for found in hop_pids for pid in found))
        return AnswerRecord(
            qid=qid, question=f"{qid}?", gold=gold, prediction=prediction, latency_s=1.0, tokens_in=None,
            tokens_out=None, retrieved_pids=retrieved, retrieved_titles=retrieved, gold_pids=gold_pids,
            retrieved_texts=[f"T | {pid}" for pid in retrieved], hops=hops, hop_pids=hop_pids,
        )  # fmt: skip

    student = [
        answered("a", ["Paris"], "Paris", 1, ["p1"], [["p1"], ["p9"]]),
        answered("b", ["1742"], "1700", 2, ["p2", "p3"], [["p2"], ["p3"]]),
        answered("c", ["unanswerable"], "unanswerable", 1, [], [["p9"], ["p8"]]),
    ]
    report = {
        "systems": {"student_distilled": score_system(student)},
        "program": {
            "name": "multihop",
            "choice": "auto: 1 of 3 training questions have two gold passages",
            "fusion": "rrf",
        },  # fmt: skip
    }
    markdown = (write_report(report, tmp_path) / "report.md").read_text()
    header = "| System | one-hop EM | two-hop EM | one-hop searched again | two-hop searched again |"
    assert f"{header} all gold in context (%) | hop 1 | hop 2 | missed |" in markdown
    # One-hop: a right, c right (abstained); two-hop: b wrong. All gold: a and b (c has no gold passages).
    # Query recall: hop 1 found a's and b's first gold passage (2 searched), hop 2 b's second (1); b is wrong with
    # both its gold passages in context: a reading error.
    assert "| hop 1 query recall (%) | hop 2 query recall (%) | wrong, all gold (reading) |" in markdown
    # Every question searched twice: a and c (one-hop) needlessly, b (two-hop) as it should.
    row = "| student_distilled | 100.0 (2) | 0.0 (1) | 2 of 2 | 1 of 1 | 100.0 | 2 | 1 | 0 | 100.0 (2) | 100.0 (1) |"
    assert f"{row} 1 | 0 |" in markdown
    assert "Program: multihop (auto: 1 of 3 training questions have two gold passages, fusion rrf)." in markdown
    # Abstention: 1 unanswerable, 1 abstention, none answered, none refused.
    assert "| student_distilled | 1 | 1 | 0 | 0 | 100.0 | 100.0 |" in markdown
    report["program"].update(offered_choices=True, full_names=True)
    markdown = (write_report(report, tmp_path / "in-full") / "report.md").read_text()
    assert "two gold passages, fusion rrf, offered choices (named in full))." in markdown


# Appended to a copy of index.html: once the page has loaded, record each image's decoded width in the DOM.
PROBE = """<script>
window.addEventListener("load", () => {
  for (const img of document.images) img.setAttribute("data-natural-width", String(img.naturalWidth));
  document.body.setAttribute("data-probed", "yes");
});
</script>"""


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


@pytest.mark.slow  # needs a browser, which a clean clone's machine does not have
@pytest.mark.skipif(
    find_chromium() is None,
    reason="no chromium binary on PATH: install it (apt-get install -y chromium) to check the HTML plots render",
)
def test_headless_chromium_decodes_every_plot(tmp_path):
    page = (write_report(full_report(), tmp_path / "report") / "index.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    command = [
        find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000", "--dump-dom", probed.as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=90, check=True).stdout
    assert 'data-probed="yes"' in dom
    widths = dict(re.findall(r'<img id="([\w-]+)"[^>]*data-natural-width="(\d+)"', dom))
    assert set(widths) == {"plot-quality", "plot-latency", "plot-recall"}
    assert all(int(width) > 100 for width in widths.values()), widths
