"""Loaders for corpora and QA splits, with validation that names the file and line of every problem.

Corpora are JSONL (`{"pid", "title", "text"}`) or TSV (`pid<TAB>title<TAB>text`, header optional).
QA splits are a bundled split name (`train`, `dev`, `test` of the fictional world in `data/world/`),
a JSONL or CSV file with `question` and `answer` or `answers`, or a Hugging Face `datasets` dataset
(a directory written by `save_to_disk`, or a hub id). Every example becomes a `dspy.Example` with
`id`, `question`, `answer` (the primary gold answer), `answers` (gold plus aliases), `gold_pids` and
`hops`, and `question` as its only input. Extra fields (HotpotQA's `context_pids`, ...) are ignored,
so the real samples in `data/samples/` (`SAMPLES_DIR`) load as they are; SQuAD-style `answers` (`{"text": [...]}`) too.
A file source may end with a Python slice of its rows, `questions.jsonl[:158]` or `questions.jsonl[158:]`:
one file split into training and test questions the same way every time.

Unanswerable questions: a row whose `answers` is an empty list (`[]`, or SQuAD v2's `{"text": []}`) is a
question the data marks unanswerable; it loads with the fixed answer `UNANSWERABLE`, which the student is
trained to say and the report scores as abstention (precision and recall). This is the default because
SQuAD v2-style data marks such questions on purpose: refusing them would make the data unloadable, and
skipping them would quietly report on the answerable part only. A row with no answer field at all (or an
empty `answer` string, or an empty CSV cell) is still refused, since that is far more often a mistake.

Bad rows stop the load with a `DataError` (a `ValueError`) such as `data/x.jsonl line 7: missing field 'question'`;
with `skip_bad_rows=True` they are skipped and counted in one warning instead. Simplifications: a list
given as a string (a CSV `answers` or `gold_pids` cell) is split on `|`; `limit` keeps the first rows of
a source that is still read and validated whole.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dspy

from core.errors import DataError, first_line

WORLD_DIR = Path(__file__).resolve().parent / "world"
WORLD_CORPUS = WORLD_DIR / "corpus.jsonl"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
"""The real HotpotQA and SQuAD samples shipped with the repository (its README says what each file holds)."""
BUNDLED_SPLITS = ("train", "dev", "test")
UNANSWERABLE = "unanswerable"
"""The answer of a question the data marks unanswerable (an empty answer list)."""
_ROW_SLICE = re.compile(r"^(?P<path>.+)\[(?P<start>-?\d*):(?P<stop>-?\d*)\]$")


@dataclass(frozen=True)
class Passage:
    """One corpus passage."""

    pid: str
    title: str
    text: str

    def as_context(self) -> str:
        """The passage as shown to an LM: `title | text`."""
        return f"{self.title} | {self.text}"


class BadRow(ValueError):
    """A row that cannot be used; carries the message without the file/line prefix."""


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (for manifests and reports)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _existing_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return path


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict | BadRow]]:
    """(line number, object) for each non-blank line; a malformed line comes as a `BadRow` instead."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig")
                row = json.loads(line) if line.strip() else None
            except UnicodeDecodeError:
                yield number, BadRow("not UTF-8 text")
                continue
            except json.JSONDecodeError as err:
                yield number, BadRow(f"malformed JSON ({err.msg})")
                continue
            if row is not None:
                yield number, row if isinstance(row, dict) else BadRow("expected a JSON object")


def _csv_lines(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of a CSV or TSV file; undecodable or malformed text stops with a `DataError`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (byte {err.start})") from None
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as err:
        raise DataError(f"{path} line {reader.line_num}: malformed CSV ({err})") from None


def _collect(path: Path, rows, build, key, *, skip_bad_rows: bool, allow_empty: bool = False) -> list:
    """Build one item per row, enforcing unique keys; the shared validation loop of every loader."""
    items, seen, skipped = [], {}, 0
    for number, row in rows:
        try:
            if isinstance(row, BadRow):
                raise row
            item = build(row)
            item_key = key(item)
            if item_key in seen:
                raise BadRow(f"duplicated id {item_key!r} (first on line {seen[item_key]})")
        except BadRow as err:
            if not skip_bad_rows:
                raise DataError(f"{path} line {number}: {err}") from None
            skipped += 1
            continue
        seen[item_key] = number
        items.append(item)
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} bad row(s)", stacklevel=3)
    if not items and not allow_empty:
        raise DataError(f"{path}: no usable rows (empty file?)")
    return items


def load_records(path: str | Path, build, *, key=None, skip_bad_rows: bool = False) -> list:
    """`build(row)` for each object of a JSONL file; `build` raises `BadRow` for an unusable row, `key` ids rows."""
    path = _existing_file(path)
    return _collect(path, _jsonl_rows(path), build, key or id, skip_bad_rows=skip_bad_rows)


def _field(row: dict, name: str) -> str:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadRow(f"missing field {name!r}")
    return str(value)


# Corpora ------------------------------------------------------------------------------------------


def _passage(row: dict) -> Passage:
    return Passage(pid=_field(row, "pid"), title=str(row.get("title") or ""), text=_field(row, "text"))


def _tsv_rows(path: Path) -> Iterator[tuple[int, dict | BadRow]]:
    for number, cells in _csv_lines(path, "\t"):
        if not cells or (number == 1 and [c.strip().lower() for c in cells[:3]] == ["pid", "title", "text"]):
            continue
        if len(cells) == 2:  # pid, text (the classic ColBERT collection.tsv)
            cells = [cells[0], "", cells[1]]
        if len(cells) != 3:
            yield number, BadRow(f"expected 3 tab-separated columns (pid, title, text), got {len(cells)}")
            continue
        yield number, dict(zip(("pid", "title", "text"), cells, strict=True))


def load_corpus(path: str | Path, *, skip_bad_rows: bool = False, allow_empty: bool = False) -> list[Passage]:
    """Read a JSONL or TSV corpus; pids are strings and must be unique; empty only if `allow_empty`."""
    path = _existing_file(path)
    rows = _tsv_rows(path) if path.suffix.lower() in (".tsv", ".tab") else _jsonl_rows(path)
    return _collect(path, rows, _passage, lambda p: p.pid, skip_bad_rows=skip_bad_rows, allow_empty=allow_empty)


# QA examples --------------------------------------------------------------------------------------


def _strings(row: dict, name: str) -> list[str]:
    """A list field (gold answers, pids) as non-empty strings: a JSON list, a `|`-separated string or
    a Hugging Face SQuAD-style `{"text": [...], ...}` record."""
    value = row.get(name)
    if isinstance(value, dict) and "text" in value:
        value = value["text"]
    if value is None or isinstance(value, str):
        value = (value or "").split("|")
    elif not isinstance(value, list | tuple):
        raise BadRow(f"field {name!r} must be a list, got {type(value).__name__}")
    return [str(item).strip() for item in value if str(item).strip()]


def _marked_unanswerable(row: dict) -> bool:
    """Whether the row's `answers` is an empty list (SQuAD v2 style), the mark of an unanswerable question."""
    value = row.get("answers")
    if isinstance(value, dict):
        value = value.get("text")
    return isinstance(value, list | tuple) and not value and not str(row.get("answer") or "").strip()


def _answers(row: dict, require_answers: bool) -> list[str]:
    """The primary answer (`answer`, else the first of `answers`) followed by the other answers, without repeats;
    `[UNANSWERABLE]` for a row marked unanswerable."""
    if _marked_unanswerable(row):
        return [UNANSWERABLE]
    answer = row.get("answer")
    answers = ([str(answer).strip()] if answer is not None else []) + _strings(row, "answers")
    answers = list(dict.fromkeys(a for a in answers if a))
    if not answers and require_answers:
        raise BadRow("missing field 'answer' (or 'answers')")
    return answers


def make_example(row: dict, *, default_id: str, require_answers: bool = True) -> dspy.Example:
    """One validated `dspy.Example` from a dict row (raises `BadRow` on a problem)."""
    question = _field(row, "question")
    answers = _answers(row, require_answers)
    gold_pids = _strings(row, "gold_pids")
    try:
        hops = int(row.get("hops") or (2 if len(gold_pids) > 1 else 1))
    except (TypeError, ValueError):
        raise BadRow(f"hops must be an integer, got {row.get('hops')!r}") from None
    return dspy.Example(
        id=str(row.get("id") if row.get("id") not in (None, "") else default_id),
        question=question,
        answer=answers[0] if answers else "",
        answers=answers,
        gold_pids=gold_pids,
        hops=hops,
    ).with_inputs("question")


def _example_builder(require_answers: bool):
    counter = iter(range(1_000_000_000))
    return lambda row: make_example(row, default_id=f"q{next(counter)}", require_answers=require_answers)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict | BadRow]]:
    lines = _csv_lines(path, ",")
    _, header = next(lines, (1, []))
    if not header:
        return  # an empty file: the caller reports that it has no rows
    if "question" not in header:
        raise DataError(f"{path} line 1: CSV header must name a 'question' column")
    for number, cells in lines:
        if not cells:
            continue
        if len(cells) > len(header):
            yield number, BadRow(f"{len(cells)} cells for {len(header)} columns")
            continue
        yield number, dict(zip(header, cells, strict=False))


def _hf_examples(source: str, split: str | None, require_answers: bool, skip_bad_rows: bool) -> list[dspy.Example]:
    import datasets

    try:
        if Path(source).is_dir():
            dataset = datasets.load_from_disk(source)
        else:
            dataset = datasets.load_dataset(source, split=split)
    except Exception as err:  # datasets raises many types; all mean "cannot read this source"
        raise DataError(f"cannot load dataset {source!r}: {first_line(err)}") from None
    if isinstance(dataset, datasets.DatasetDict):
        if split is None or split not in dataset:
            raise DataError(f"dataset {source!r} has splits {sorted(dataset)}: choose one with split=")
        dataset = dataset[split]
    rows = ((number, dict(row)) for number, row in enumerate(dataset, start=1))
    return _collect(Path(source), rows, _example_builder(require_answers), lambda e: e.id, skip_bad_rows=skip_bad_rows)


def split_source(source: str | Path) -> tuple[str, slice]:
    """(The file or dataset a QA source names, the slice of its rows it takes): `x.jsonl[:158]` gives
    (`x.jsonl`, slice(None, 158)), a bundled split name its file, a source without a slice every row."""
    source = str(source)
    if source in BUNDLED_SPLITS:
        source = str(WORLD_DIR / f"{source}.jsonl")
    if (sliced := _ROW_SLICE.match(source)) and not Path(source).exists():
        return sliced["path"], slice(*[int(sliced[end]) if sliced[end] else None for end in ("start", "stop")])
    return source, slice(None)


def load_examples(
    source: str | Path,
    *,
    split: str | None = None,
    skip_bad_rows: bool = False,
    limit: int | None = None,
    require_answers: bool = True,
) -> list[dspy.Example]:
    """Load QA examples from a bundled split name, a JSONL/CSV file (optionally `FILE[start:stop]`, a slice of its
    rows) or a Hugging Face dataset."""
    source, row_slice = split_source(source)
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".csv"):
        path = _existing_file(path)
        rows = _csv_rows(path) if suffix == ".csv" else _jsonl_rows(path)
        examples = _collect(path, rows, _example_builder(require_answers), lambda e: e.id, skip_bad_rows=skip_bad_rows)
    elif path.is_dir() or ("/" in source and not path.exists()):
        examples = _hf_examples(source, split, require_answers, skip_bad_rows)
    else:
        raise DataError(
            f"cannot read QA data {source!r}: expected one of {', '.join(BUNDLED_SPLITS)}, a .jsonl/.csv file, "
            "or a Hugging Face dataset (directory or hub id)"
        )
    examples = examples[row_slice]
    return examples[:limit] if limit is not None else examples


def _task_example_builder(inputs: tuple[str, ...]):
    def build(row: dict) -> dspy.Example:
        missing = [name for name in inputs if row.get(name) in (None, "")]
        if missing:
            raise BadRow(f"missing input field {missing[0]!r} (the program's inputs are {', '.join(inputs)})")
        return dspy.Example(**row).with_inputs(*inputs)

    return build


def load_task_examples(
    source: str | Path, inputs: tuple[str, ...], *, skip_bad_rows: bool = False, limit: int | None = None
) -> list[dspy.Example]:
    """Examples for any DSPy program from a JSONL file (optionally `FILE[start:stop]`): every field of a row,
    `inputs` as the example's inputs and the rest as its labels (typed labels, lists or objects, are JSON values);
    a row lacking an input is a bad row.

    Args:
        source: the file, with an optional row slice.
        inputs: the program's input fields.
        skip_bad_rows: skip (and count in one warning) rows lacking an input instead of stopping.
        limit: keep the first rows only.

    Returns:
        The examples, in file order.

    Raises:
        DataError: a missing or unreadable file, a malformed line, a row lacking an input, or no rows.
    """
    source, row_slice = split_source(source)
    path = _existing_file(source)
    if path.suffix.lower() not in (".jsonl", ".json"):
        raise DataError(f"cannot read {source!r}: a program's data is a .jsonl file (one JSON object per line)")
    rows = _jsonl_rows(path)
    examples = _collect(path, rows, _task_example_builder(inputs), id, skip_bad_rows=skip_bad_rows)[row_slice]
    return examples[:limit] if limit is not None else examples
