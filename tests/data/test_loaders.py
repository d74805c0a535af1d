"""Loaders: every supported source on its happy path, and one clear error per kind of bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.errors import RagdistillError
from data.loaders import SAMPLES_DIR, UNANSWERABLE, WORLD_CORPUS, Passage, load_corpus, load_examples, split_source


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_split_examples_have_every_field():
    examples = load_examples("dev", limit=5)
    assert len(examples) == 5
    example = examples[0]
    assert set(example.inputs().keys()) == {"question"}
    assert example.answer == example.answers[0] and example.gold_pids and example.hops in (1, 2)


def test_jsonl_with_answers_list_and_defaults(tmp_path):
    path = write(tmp_path / "qa.jsonl", json.dumps({"question": "Q?", "answers": ["a", "b"]}) + "\n\n")
    (example,) = load_examples(path)
    assert (example.answer, example.answers, example.gold_pids, example.hops, example.id) == (
        "a",
        ["a", "b"],
        [],
        1,
        "q0",
    )


def test_csv_with_pipe_separated_answers(tmp_path):
    path = write(tmp_path / "qa.csv", "id,question,answers\nx1,Who?,Ann|Anna\n")
    (example,) = load_examples(path)
    assert (example.id, example.answer, example.answers) == ("x1", "Ann", ["Ann", "Anna"])


def test_hugging_face_dataset_directory(tmp_path):
    import datasets

    datasets.Dataset.from_list([{"question": "Q1?", "answer": "A1"}, {"question": "Q2?", "answer": "A2"}]).save_to_disk(
        tmp_path / "hf"
    )
    examples = load_examples(tmp_path / "hf")
    assert [e.answer for e in examples] == ["A1", "A2"]


def test_hugging_face_squad_style_dataset_dict_needs_a_split(tmp_path):
    import datasets

    row = {"id": "s1", "question": "Who?", "answers": {"text": ["Ann", "Ann", "Anna"], "answer_start": [0, 0, 4]}}
    datasets.DatasetDict({"validation": datasets.Dataset.from_list([row])}).save_to_disk(tmp_path / "squad")
    (example,) = load_examples(tmp_path / "squad", split="validation")
    assert (example.id, example.answer, example.answers) == ("s1", "Ann", ["Ann", "Anna"])
    with pytest.raises(RagdistillError, match=re.escape("has splits ['validation']: choose one with split=")):
        load_examples(tmp_path / "squad")


def test_corpus_jsonl_and_tsv(tmp_path):
    jsonl = write(tmp_path / "c.jsonl", json.dumps({"pid": 7, "title": "T", "text": "x"}) + "\n")
    tsv = write(tmp_path / "c.tsv", "pid\ttitle\ttext\n1\tT\tx\n2\tU\ty\n")
    headless = write(tmp_path / "d.tsv", '1\tT\t"quoted" x\n2\tonly text\n')
    assert load_corpus(jsonl) == [Passage("7", "T", "x")] and load_corpus(jsonl)[0].as_context() == "T | x"
    assert [p.title for p in load_corpus(tsv)] == ["T", "U"]
    assert load_corpus(headless) == [Passage("1", "T", '"quoted" x'), Passage("2", "", "only text")]


def test_bundled_corpus_holds_every_gold_passage():
    pids = {passage.pid for passage in load_corpus(WORLD_CORPUS)}
    assert all(set(example.gold_pids) <= pids for example in load_examples("test"))


def test_the_real_samples_read_as_they_are():
    examples = load_examples(SAMPLES_DIR / "hotpotqa_dev_sample.jsonl")
    corpus = {p.pid for p in load_corpus(SAMPLES_DIR / "hotpotqa_dev_sample_corpus.jsonl")}
    assert len(examples) == 198 and all(set(e.gold_pids) <= corpus for e in examples)
    squad = load_examples(SAMPLES_DIR / "squad_v1.1_dev_sample.jsonl")
    assert len(squad) == 810 and all(len(set(e.answers)) == len(e.answers) and len(e.gold_pids) == 1 for e in squad)
    assert {e.hops for e in examples} == {2} and {e.hops for e in squad} == {1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"question": "Q?", "answer": "a"}\n{"question": \n', "line 2: malformed JSON"),
        ('{"question": "Q?", "answer": "a"}\n{"answer": "b"}\n', "line 2: missing field 'question'"),
        ('{"question": "Q?"}\n', "line 1: missing field 'answer'"),
        ("", "no usable rows"),
        ("\n\n", "no usable rows"),
        ('{"question": "Q?", "answer": "a"}\n["a list"]\n', "line 2: expected a JSON object"),
        ('{"question": "Q?", "answer": "a", "gold_pids": 5}\n', "line 1: field 'gold_pids' must be a list, got int"),
        ('{"question": "Q?", "answer": "a", "hops": "two"}\n', "line 1: hops must be an integer, got 'two'"),
        (
            '{"id": "1", "question": "Q?", "answer": "a"}\n{"id": "1", "question": "R?", "answer": "b"}\n',
            "line 2: duplicated id '1' (first on line 1)",
        ),
    ],
)
def test_bad_qa_files_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "bad.jsonl", text)
    with pytest.raises(RagdistillError, match=re.escape(message)) as raised:
        load_examples(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_bad_corpus_rows(tmp_path):
    with pytest.raises(RagdistillError, match="line 2: duplicated id 'a'"):
        load_corpus(write(tmp_path / "c.jsonl", '{"pid": "a", "text": "x"}\n{"pid": "a", "text": "y"}\n'))
    with pytest.raises(RagdistillError, match="line 1: missing field 'text'"):
        load_corpus(write(tmp_path / "d.jsonl", '{"pid": "a", "title": "t"}\n'))
    with pytest.raises(RagdistillError, match="no such file"):
        load_corpus(tmp_path / "absent.jsonl")


def test_bad_csv_and_undecodable_files(tmp_path):
    with pytest.raises(RagdistillError, match=re.escape("line 3: 3 cells for 2 columns")):
        load_examples(write(tmp_path / "a.csv", "question,answer\nQ?,a\nR?,b,c\n"))
    with pytest.raises(RagdistillError, match=re.escape("line 1: CSV header must name a 'question' column")):
        load_examples(write(tmp_path / "b.csv", "query,answer\nQ?,a\n"))
    with pytest.raises(RagdistillError, match="no usable rows"):
        load_examples(write(tmp_path / "c.csv", ""))
    (tmp_path / "d.jsonl").write_bytes(b'{"question": "Q?", "answer": "a"}\n\xff\xfe\n')
    with pytest.raises(RagdistillError, match="line 2: not UTF-8 text"):
        load_examples(tmp_path / "d.jsonl")
    (tmp_path / "e.tsv").write_bytes(b"1\tT\t\xff\n")
    with pytest.raises(RagdistillError, match="not UTF-8 text"):
        load_corpus(tmp_path / "e.tsv")


def test_skip_bad_rows_skips_and_warns(tmp_path):
    path = write(tmp_path / "qa.jsonl", '{"question": "Q?", "answer": "a"}\nnot json\n{"answer": "b"}\n')
    with pytest.warns(UserWarning, match="skipped 2 bad row"):
        assert len(load_examples(path, skip_bad_rows=True)) == 1
    corpus = write(tmp_path / "c.tsv", "1\tT\tx\n1\tT\ty\n2\ta\tb\tc\n3\tU\tz\n")
    with pytest.warns(UserWarning, match="skipped 2 bad row"):
        assert [p.pid for p in load_corpus(corpus, skip_bad_rows=True)] == ["1", "3"]


def test_unanswered_questions_only_when_allowed(tmp_path):
    path = write(tmp_path / "q.jsonl", '{"question": "Q?"}\n')
    assert load_examples(path, require_answers=False)[0].answers == []


def test_an_empty_answer_list_marks_an_unanswerable_question(tmp_path):
    import datasets

    path = write(tmp_path / "q.jsonl", '{"question": "Q?", "answers": []}\n{"question": "R?", "answers": ["r"]}\n')
    unanswerable, answerable = load_examples(path)
    assert (unanswerable.answer, unanswerable.answers) == (UNANSWERABLE, [UNANSWERABLE])
    assert answerable.answers == ["r"]
    squad_v2 = {"id": "s1", "question": "Who?", "answers": {"text": [], "answer_start": []}}
    datasets.Dataset.from_list([squad_v2]).save_to_disk(tmp_path / "squad_v2")
    assert load_examples(tmp_path / "squad_v2")[0].answers == [UNANSWERABLE]
    # No answer field, or an empty answer string, is still a mistake, not an unanswerable question.
    for row in ('{"question": "Q?"}', '{"question": "Q?", "answer": ""}'):
        with pytest.raises(RagdistillError, match="missing field 'answer'"):
            load_examples(write(tmp_path / "bad.jsonl", row + "\n"))


def test_a_slice_of_a_file_splits_it_the_same_way_every_time(tmp_path):
    rows = "".join(json.dumps({"id": f"q{i}", "question": f"Q{i}?", "answer": "a"}) + "\n" for i in range(5))
    path = write(tmp_path / "qa.jsonl", rows)
    assert [e.id for e in load_examples(f"{path}[:3]")] == ["q0", "q1", "q2"]
    assert [e.id for e in load_examples(f"{path}[3:]")] == ["q3", "q4"]
    assert [e.id for e in load_examples(f"{path}[-2:]", limit=1)] == ["q3"]
    assert split_source(f"{path}[3:]") == (str(path), slice(3, None)) and split_source(path) == (str(path), slice(None))
    with pytest.raises(RagdistillError, match="no such file"):
        load_examples(f"{tmp_path / 'absent.jsonl'}[:3]")


def test_unknown_source_is_one_line(tmp_path):
    with pytest.raises(RagdistillError, match="cannot read QA data"):
        load_examples("validation")


def test_tiny_fixtures_hold_their_gold_passages(tiny_corpus, tiny_corpus_path, tiny_examples):
    assert len(tiny_corpus) == 40 and len(tiny_examples) == 12
    assert load_corpus(tiny_corpus_path) == tiny_corpus
    pids = {passage.pid for passage in tiny_corpus}
    assert all(example.gold_pids and set(example.gold_pids) <= pids for example in tiny_examples)
