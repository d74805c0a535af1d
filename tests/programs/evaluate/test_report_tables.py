"""programs.evaluate.report_tables: one function per section, sections without data left out, digits as shown."""

from __future__ import annotations

from programs.evaluate import report_tables
from programs.evaluate.report_render import render_markdown
from programs.evaluate.report_tables import SECTIONS, Table, build_tables, systems_table


def test_sections_without_data_are_left_out():
    # Only the systems table is always there; every other section needs its part of the report.
    assert [table.title for table in build_tables({})] == ["Systems"]
    tables = build_tables({"models": {"student": "tiny-t5"}, "data": {"test.jsonl": "ab"}})
    assert [table.title for table in tables] == ["Systems", "Models and data"]
    assert tables[1].rows == [["model: student", "tiny-t5"], ["data: test.jsonl", "ab"]]


def test_systems_table_formats_figures_once_for_every_rendering():
    # 52.5 EM with its interval, latency with three digits, an absent figure as n/a, the speed ratio 0.6 / 0.2 = 3.
    systems = {
        "student_distilled": {"questions": 40, "em": 52.5, "em_ci": [37.5, 67.5], "f1": 60.0, "latency_p50_s": 1.23456,
                              "answers_per_s": 0.6},
        "teacher_compiled": {"questions": 8, "em": 50.0, "f1": 55.0, "answers_per_s": 0.2, "engine": "ct2 float32"},
    }  # fmt: skip
    table = systems_table({"systems": systems})
    assert table.rows[0][:4] == ["teacher_compiled", "8", "50.0", "55.0"]
    assert table.rows[1][:7] == ["student_distilled", "40", "52.5 [37.5, 67.5]", "60.0", "n/a", "n/a", "1.235"]
    assert table.note == "student_distilled answers 3.00x as many questions per second as teacher_compiled."


def test_a_new_section_is_one_function_in_sections(monkeypatch):
    def parse_failures(report: dict) -> Table | None:
        rate = report.get("parse_failure_rate")
        return None if rate is None else Table("Parse failures", ["share (%)"], [[f"{100 * rate:.1f}"]])

    monkeypatch.setattr(report_tables, "SECTIONS", [*SECTIONS, parse_failures])
    assert "Parse failures" not in render_markdown({})
    assert "## Parse failures\n\n| share (%) |\n|---|\n| 12.5 |" in render_markdown({"parse_failure_rate": 0.125})
