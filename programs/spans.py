"""Copy checks: a generated search query or answer snapped to the span of the step's inputs it meant to copy.

A 135M student copies names badly: asked for the bridge entity it read in a passage ("Pep Siosklo"), it writes
"Pe Siosklo"; asked for the company the question names ("Thaijoul Company"), "Thailandjoul Company". A
search for a misspelt name finds other passages, and a misspelt answer scores 0. Both steps are trained to copy
(query targets are titles read in the question or a passage, `optimizers.targets`; the world's and SQuAD's
answers are spans of a passage), so `snap_to_span` replaces a generated text that is not in its sources by the
most similar span of them, when one is similar enough (`MIN_SIMILARITY`); a text that is in its sources, like
none of them, or shorter than `MIN_CHARS` (HotpotQA's "yes" and "no" are answers but not spans, and a short word
is close to many others: "no" to "not" and "now") is kept as it is.

Similarity is difflib's ratio of the two normalized strings (SQuAD normalization: lowercase, no punctuation
or articles); a candidate span has the text's number of words, one more or one fewer, and is returned as the
source writes it.

Simplified: spans are runs of whole words (no sub-word spans), the first most similar span wins, and the
threshold is one number for queries and answers alike, not tuned per corpus.
"""

from __future__ import annotations

import difflib
import re

from dspy.evaluate.metrics import normalize_text

MIN_SIMILARITY = 0.75
"""A span at least this similar (difflib ratio of the normalized strings) replaces the generated text."""

MIN_CHARS = 4
"""Texts shorter than this (normalized) are never snapped."""

_WORD = re.compile(r"[\w][\w'\u2019.-]*")


def _spans(source: str, lengths: range) -> list[str]:
    """Every run of `n` consecutive words of `source` for `n` in `lengths`, as written in `source`."""
    words = [(match.start(), match.end()) for match in _WORD.finditer(source)]
    spans = []
    for n in lengths:
        for first in range(len(words) - n + 1):
            spans.append(source[words[first][0] : words[first + n - 1][1]].rstrip(".'\u2019-"))
    return spans


def snap_to_span(text: str, sources: list[str], min_similarity: float = MIN_SIMILARITY) -> str:
    """`text` itself when its normalized form occurs in a source (or nothing is similar enough), else the most
    similar span of the sources (see the module docstring)."""
    target = normalize_text(str(text or ""))
    if len(target) < MIN_CHARS or any(f" {target} " in f" {normalize_text(source)} " for source in sources):
        return text
    size = len(target.split())
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    best, best_ratio = text, min_similarity
    for source in sources:
        for span in _spans(source, range(max(1, size - 1), size + 2)):
            matcher.set_seq1(normalize_text(span))
            if matcher.real_quick_ratio() > best_ratio and matcher.quick_ratio() > best_ratio:
                ratio = matcher.ratio()
                if ratio > best_ratio:
                    best, best_ratio = span, ratio
    return best
