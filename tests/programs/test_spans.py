"""Copy checks: generated text snapped to the span of the inputs it meant to copy (`programs.spans`)."""

from __future__ import annotations

import pytest

from programs.spans import snap_to_span

PASSAGE = "Shovki Foundry | Shovki Foundry was founded in 1890 by Pep Siosklo, who was not born in Bartruport."


@pytest.mark.parametrize(
    ("written", "snapped"),
    [
        ("Pe Siosklo", "Pep Siosklo"),  # a letter dropped
        ("Bruport", "Bartruport"),  # a syllable dropped
        ("Shovky Foundry", "Shovki Foundry"),
        ("pep siosklo", "pep siosklo"),  # already in the passage (case and punctuation aside): kept as written
        ("1928", "1928"),  # like no span closely enough ("1890" shares half its characters): kept
        ("Mount Levken", "Mount Levken"),
        ("none", "none"),
        ("no", "no"),  # too short to snap ("not" is one letter away): HotpotQA's yes/no answers stay
        ("yes", "yes"),
        ("", ""),
    ],
)
def test_a_near_miss_becomes_the_span_and_anything_else_is_kept(written, snapped):
    assert snap_to_span(written, [PASSAGE]) == snapped


def test_the_most_similar_span_of_any_source_wins_and_keeps_its_own_spelling():
    question = "In which city was the founder of Thaijoul Company born?"
    assert snap_to_span("Thailandjoul Company", [PASSAGE, question]) == "Thaijoul Company"


def test_the_threshold_decides():
    assert snap_to_span("Siosk", [PASSAGE], min_similarity=0.95) == "Siosk"
    assert snap_to_span("Siosk", [PASSAGE], min_similarity=0.5) == "Siosklo"
