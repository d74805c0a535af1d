"""`python -m data.unanswerable`: add unanswerable questions to SQuAD-like data, the SQuAD v2 way.

SQuAD v2 (Rajpurkar et al. 2018) marks a question unanswerable by giving it an empty answer list. Here an
unanswerable row is a question about *another article*: a question of a second data set whose articles (its
`context_titles`, `gold_titles`) are none of the first data set's, so its answer is nowhere in the first set's
corpus. Searched against that corpus, it is paired with passages of another article, and the right answer is to
refuse. Each added row is `{"id": "unanswerable-<its id>", "question", "answers": [], "gold_pids": [], "hops": 1}`,
which `data.loaders` loads with the answer `UNANSWERABLE` ("unanswerable"): a student compiled on such data is
trained to say it, and the report counts answered-unanswerable and refused-answerable questions.

`add_unanswerable(rows, other, share, seed)` is deterministic: which questions of `other` are taken depends only on
`seed` and their ids (a hash order), and they are spread evenly through `rows` (one after every few answerable
rows), so every contiguous slice of the result (a `[:158]` training part, a `[158:]` test part) holds its share.

Simplified: the unanswerable questions are plainly off-topic (SQuAD v2's were written by people to look answerable
from the paragraph); that teaches refusing what the corpus does not cover, not spotting near-miss questions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click

from core.atomic import write_text_atomic
from core.errors import DataError, exit_cleanly_on_error
from data.loaders import split_source

UNANSWERABLE_PREFIX = "unanswerable-"


def articles(row: dict) -> set[str]:
    """The titles of the articles a row's question is about (its context and gold titles)."""
    return {str(title) for key in ("context_titles", "gold_titles") for title in row.get(key) or []}


def _hash_order(row: dict, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{row['id']}".encode()).hexdigest()


def add_unanswerable(rows: list[dict], other: list[dict], share: float = 0.25, seed: int = 0) -> list[dict]:
    """`rows` with unanswerable questions from `other` spread evenly among them, `share` of the result.

    Args:
        rows: the answerable data set's rows (JSON objects with `id` and `question`).
        other: rows of a data set about other articles; those sharing an article with `rows` are never taken.
        share: the fraction of the result that is unanswerable (0 to under 1).
        seed: which of `other`'s questions are taken (their order is a hash of the seed and their ids).

    Returns:
        The rows, in their order, with the unanswerable rows inserted.

    Raises:
        DataError: a share out of range, or too few questions of other articles in `other`.
    """
    if not 0 <= share < 1:
        raise DataError(f"the unanswerable share must be at least 0 and under 1, got {share}")
    wanted = round(share * len(rows) / (1 - share))
    covered = set().union(*map(articles, rows)) if rows else set()
    candidates = sorted((row for row in other if not articles(row) & covered), key=lambda row: _hash_order(row, seed))
    if len(candidates) < wanted:
        raise DataError(f"{wanted} unanswerable questions wanted, but only {len(candidates)} are about other articles")
    added = [
        {"id": f"{UNANSWERABLE_PREFIX}{row['id']}", "question": row["question"], "answers": [], "gold_pids": [],
         "hops": 1}
        for row in candidates[:wanted]
    ]  # fmt: skip
    result: list[dict] = []
    for position, row in enumerate(rows):
        result.append(row)
        # After answerable row `position`, as many unanswerable rows as its even share of them has grown past.
        while len(result) - position - 1 < wanted * (position + 1) // len(rows):
            result.append(added[len(result) - position - 1])
    return result


def read_rows(source: str) -> list[dict]:
    """The JSON objects of a JSONL file (optionally `FILE[start:stop]`, a slice of its rows)."""
    path, row_slice = split_source(source)
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    try:
        return [json.loads(line) for line in lines if line.strip()][row_slice]
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: malformed JSON ({err.msg})") from None


@click.command()
@click.option("--questions", required=True, help="The answerable questions (JSONL, SQuAD-like rows).")
@click.option("--other", required=True, help="Questions about other articles (JSONL), the unanswerable ones' source.")
@click.option("--share", default=0.25, show_default=True, help="Fraction of the output that is unanswerable.")
@click.option("--seed", default=0, show_default=True, help="Which questions of --other are taken.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write the JSONL.")
@exit_cleanly_on_error
def main(questions: str, other: str, share: float, seed: int, out: str) -> None:
    """Write --questions with unanswerable questions from --other spread among them."""
    rows = add_unanswerable(read_rows(questions), read_rows(other), share, seed)
    write_text_atomic(out, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    unanswerable = sum(str(row["id"]).startswith(UNANSWERABLE_PREFIX) for row in rows)
    click.echo(f"{out}: {len(rows)} questions, {unanswerable} unanswerable")


if __name__ == "__main__":
    main()
