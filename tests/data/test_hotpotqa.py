"""`python -m data.hotpotqa`: HotpotQA rows (hub and original layouts) into question files and one shared corpus."""

from __future__ import annotations

from click.testing import CliRunner

from data.hotpotqa import convert_rows, main
from data.loaders import load_corpus, load_examples

BRIDGE = {
    "id": "h1",
    "question": "Which river flows through the birthplace of Ada Varn?",
    "answer": "Orrin",
    "type": "bridge",
    "level": "medium",
    "supporting_facts": {"title": ["Ada Varn", "Kell", "Kell"], "sent_id": [0, 0, 1]},
    "context": {
        "title": ["Ada Varn", "Kell", "Distractor"],
        "sentences": [["Ada Varn was born in Kell."], ["Kell is a town.", " The Orrin flows through it."], ["Noise."]],
    },
}
COMPARISON = {  # the original JSON layout; shares the distractor paragraph with BRIDGE
    "_id": "unused",
    "id": "h2",
    "question": "Are Kell and Varnby both towns?",
    "answer": "yes",
    "type": "comparison",
    "level": "easy",
    "supporting_facts": [["Kell", 0], ["Varnby", 0]],
    "context": [["Varnby", ["Varnby is a town."]], ["Kell", ["Kell is a town.", " The Orrin flows through it."]],
                ["Distractor", ["Noise."]]],
}  # fmt: skip


def test_rows_become_questions_with_gold_pids_into_one_deduplicated_corpus():
    corpus: dict[tuple[str, str], str] = {}
    bridge, comparison = convert_rows([BRIDGE, COMPARISON], corpus)
    assert corpus == {
        ("Ada Varn", "Ada Varn was born in Kell."): "hp-0",
        ("Kell", "Kell is a town.  The Orrin flows through it."): "hp-1",
        ("Distractor", "Noise."): "hp-2",
        ("Varnby", "Varnby is a town."): "hp-3",
    }
    assert bridge["gold_pids"] == ["hp-0", "hp-1"] and bridge["gold_titles"] == ["Ada Varn", "Kell"]
    assert bridge["answers"] == ["Orrin"] and bridge["context_pids"] == ["hp-0", "hp-1", "hp-2"]
    assert comparison["gold_pids"] == ["hp-1", "hp-3"] and comparison["type"] == "comparison"


def test_cli_converts_a_saved_dataset_that_the_loaders_then_read(tmp_path):
    import datasets

    datasets.DatasetDict({"validation": datasets.Dataset.from_list([BRIDGE])}).save_to_disk(tmp_path / "hf")
    out = tmp_path / "hotpotqa"
    result = CliRunner().invoke(main, ["--source", str(tmp_path / "hf"), "--splits", "validation", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "validation: 1, passages: 3" in result.output
    (example,) = load_examples(out / "validation.jsonl")
    corpus = {passage.pid: passage for passage in load_corpus(out / "corpus.jsonl")}
    assert example.hops == 2 and [corpus[pid].title for pid in example.gold_pids] == ["Ada Varn", "Kell"]


def test_an_unreachable_source_is_one_error_line(tmp_path):
    result = CliRunner().invoke(main, ["--source", str(tmp_path / "absent" / "dir"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and result.output.strip().splitlines()[-1].startswith("error: cannot load")
