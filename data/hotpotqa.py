"""Convert HotpotQA (distractor setting) into ragdistill question files and one corpus.

    python -m data.hotpotqa [--out runs/data/hotpotqa] [--source hotpotqa/hotpot_qa] [--splits train,validation]
                            [--limit 1000]

HotpotQA ships each question with its context paragraphs (two supporting, up to eight distractors) as titles
and sentence lists, and its supporting facts as (title, sentence number) pairs. This writes, for each split,
`<split>.jsonl` with our question rows (`{"id", "question", "answers": [answer], "gold_pids", "gold_titles",
"context_pids", "type", "level"}`, the layout of the samples in `../shared/data`) and one `corpus.jsonl`
(`{"pid", "title", "text"}`) with every context paragraph of every converted question, so that all splits
search one corpus. A paragraph's text is its sentences joined with a space (the source's sentences keep their
leading space, hence the double spaces seen in the shared sample); paragraphs are de-duplicated by (title,
text) and numbered `hp-<n>` in order of first appearance. The gold passages are the paragraphs the supporting
facts name.

`--source` is a Hugging Face hub id (`datasets` downloads it, so this needs the hub) or a directory written
by `save_to_disk`. Rows may be in the hub's layout (`context = {"title": [...], "sentences": [[...]]}`) or the
original JSON's (`context = [[title, sentences], ...]`).

Simplified: the first `limit` questions of each split, not a random sample; gold passages are whole paragraphs
(the sentence-level supporting facts are not kept).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click

from core.atomic import write_text_atomic
from core.cli import dataclass_options
from core.errors import ConfigError, DataError, exit_cleanly_on_error, first_line
from data.world import to_jsonl

HUB_ID = "hotpotqa/hotpot_qa"


@dataclass
class HotpotQAConfig:
    """What to convert and where to write it."""

    out: str = "runs/data/hotpotqa"
    """Directory for `<split>.jsonl` and `corpus.jsonl`."""
    source: str = HUB_ID
    """A Hugging Face hub id (needs the hub) or a `save_to_disk` directory."""
    config: str = "distractor"
    """The dataset configuration (hub ids only)."""
    splits: str = "train,validation"
    """Splits to convert, comma-separated."""
    limit: int = 1000
    """Questions converted per split (the first ones)."""


def _pairs(value: dict | list, first: str, second: str) -> list[tuple]:
    """Pairs from the hub's column layout (`{first: [...], second: [...]}`) or the original list of pairs."""
    if isinstance(value, dict):
        return list(zip(value[first], value[second], strict=True))
    return [tuple(item) for item in value]


def convert_rows(rows: Iterable[dict], corpus: dict[tuple[str, str], str]) -> list[dict]:
    """Our question rows for HotpotQA rows; every context paragraph is added to `corpus` ((title, text) -> pid)."""
    questions = []
    for row in rows:
        context_pids, pid_of_title = [], {}
        for title, sentences in _pairs(row["context"], "title", "sentences"):
            pid = corpus.setdefault((title, " ".join(sentences).strip()), f"hp-{len(corpus)}")
            context_pids.append(pid)
            pid_of_title.setdefault(title, pid)
        gold_titles = list(dict.fromkeys(title for title, _ in _pairs(row["supporting_facts"], "title", "sent_id")))
        if absent := [title for title in gold_titles if title not in pid_of_title]:
            raise DataError(f"HotpotQA question {row['id']}: supporting title {absent[0]!r} not in its context")
        questions.append(
            {
                "id": row["id"],
                "question": row["question"],
                "answers": [row["answer"]],
                "gold_pids": [pid_of_title[title] for title in gold_titles],
                "gold_titles": gold_titles,
                "context_pids": context_pids,
                "type": row.get("type"),
                "level": row.get("level"),
            }
        )
    return questions


def _load_split(config: HotpotQAConfig, split: str):
    import datasets

    try:
        if Path(config.source).is_dir():
            dataset = datasets.load_from_disk(config.source)
            if isinstance(dataset, datasets.DatasetDict):
                dataset = dataset[split]
        else:
            dataset = datasets.load_dataset(config.source, config.config, split=split)
    except Exception as err:  # datasets raises many types; all mean "cannot read this source"
        raise DataError(f"cannot load {config.source!r} split {split!r}: {first_line(err)}") from None
    return dataset.select(range(min(config.limit, len(dataset))))


def convert(config: HotpotQAConfig) -> dict[str, int]:
    """Write every split's questions and the shared corpus into `config.out`; returns counts."""
    splits = [name.strip() for name in config.splits.split(",") if name.strip()]
    if not splits or config.limit < 1:
        raise ConfigError("give at least one split and a --limit of at least 1")
    corpus: dict[tuple[str, str], str] = {}
    questions = {split: convert_rows(_load_split(config, split), corpus) for split in splits}
    out = Path(config.out)
    for split, rows in questions.items():
        write_text_atomic(out / f"{split}.jsonl", to_jsonl(rows))
    passages = [{"pid": pid, "title": title, "text": text} for (title, text), pid in corpus.items()]
    write_text_atomic(out / "corpus.jsonl", to_jsonl(passages))
    return {**{split: len(rows) for split, rows in questions.items()}, "passages": len(passages)}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@dataclass_options(HotpotQAConfig)
@exit_cleanly_on_error
def main(**options) -> None:
    """Convert HotpotQA (distractor setting) into question files and one corpus for programs.compile."""
    counts = convert(HotpotQAConfig(**options))
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()) + f" -> {options['out']}")


if __name__ == "__main__":
    main()
