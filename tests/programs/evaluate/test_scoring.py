"""programs.evaluate.scoring on hand-worked records whose figures can be checked on paper."""

from __future__ import annotations

import pytest

from optimizers.metrics import answer_in_context
from programs.evaluate.scoring import AnswerRecord, bootstrap_ci, score_system, worst_questions


def record(
    qid,
    gold,
    prediction,
    *,
    latency_s=1.0,
    texts=(),
    pids=(),
    gold_pids=(),
    tokens=(None, None),
    hops=1,
    hop_pids=(),
    query_pids=(),
):
    return AnswerRecord(
        qid=qid,
        question=f"question {qid}?",
        gold=list(gold),
        prediction=prediction,
        latency_s=latency_s,
        tokens_in=tokens[0],
        tokens_out=tokens[1],
        retrieved_pids=list(pids),
        retrieved_titles=[f"title {pid}" for pid in pids],
        gold_pids=list(gold_pids),
        retrieved_texts=list(texts),
        hops=hops,
        hop_pids=[list(found) for found in hop_pids],
        query_pids=[list(found) for found in query_pids],
    )


def hand_worked() -> list[AnswerRecord]:
    """Per question (SQuAD normalization drops case, punctuation and articles):

    q1  "Paris" vs "Paris"                          EM 1, F1 1
    q2  "red dog" vs "the red fox" -> "red fox"      EM 0, F1: 1 shared token of 2 and 2 -> 0.5
    q3  "Captain Voss" vs "Mira Voss" | "Voss"       EM 0, F1 best alias "Voss": p 1/2, r 1 -> 2/3
    q4  "" vs "1742"                                 EM 0, F1 0
    EM = 1/4 = 25 %, F1 = (1 + 0.5 + 2/3 + 0) / 4 = 54.17 %.
    """
    return [
        record("q1", ["Paris"], "Paris", latency_s=1.0, tokens=(10, 2), texts=["France | Paris is the capital."],
               pids=["p1", "p2"], gold_pids=["p1"]),
        record("q2", ["the red fox"], "red dog", latency_s=2.0, tokens=(20, None), texts=["Animals | A red fox ran."],
               pids=["p3"], gold_pids=["p3", "p4"]),
        record("q3", ["Mira Voss", "Voss"], "Captain Voss", latency_s=3.0, texts=["Ships | The captain sailed."],
               pids=["p6"], gold_pids=["p5"]),
        record("q4", ["1742"], "", latency_s=4.0, tokens=(30, 4), texts=["Years | Founded in 17420."], pids=["p7"]),
    ]  # fmt: skip


def test_em_and_f1_are_percent_means_of_the_hand_worked_per_question_scores():
    scores = score_system(hand_worked())
    per_question = {q["qid"]: q for q in scores["per_question"]}
    assert [per_question[qid]["em"] for qid in ("q1", "q2", "q3", "q4")] == [1.0, 0.0, 0.0, 0.0]
    assert [per_question[qid]["f1"] for qid in ("q1", "q2", "q3", "q4")] == pytest.approx([1.0, 0.5, 2 / 3, 0.0])
    assert scores["em"] == pytest.approx(25.0)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.5 + 2 / 3) / 4)
    assert scores["em"] == pytest.approx(100 * sum(q["em"] for q in scores["per_question"]) / 4)
    assert scores["questions"] == 4


def test_rouge_l_is_the_best_alias_lcs_f_measure():
    # ROUGE's tokenizer keeps "the": q2 LCS("the red fox", "red dog") = 1 -> p 1/2, r 1/3, F 0.4;
    # q3 best alias "Voss": p 1/2, r 1 -> F 2/3; q1 1.0; q4 (empty) 0.
    scores = score_system(hand_worked())
    assert [q["rouge_l"] for q in scores["per_question"]] == pytest.approx([1.0, 0.4, 2 / 3, 0.0])
    assert scores["rouge_l"] == pytest.approx(100 * (1 + 0.4 + 2 / 3) / 4)
    assert 0.0 <= scores["bleu"] <= 100.0


def test_bleu_is_100_for_exact_multi_word_answers_and_uses_every_alias():
    records = [
        record("a", ["the old stone bridge of Varn"], "the old stone bridge of Varn"),
        record("b", ["Lake Orrin", "the cold northern lake of Orrin"], "the cold northern lake of Orrin"),
    ]
    assert score_system(records)["bleu"] == pytest.approx(100.0)


def test_bleu_scores_right_one_and_two_word_answers_100_and_wrong_ones_0():
    records = [record("a", ["Varn"], "Varn"), record("b", ["Lake Orrin"], "Lake Orrin")]
    assert score_system(records)["bleu"] == pytest.approx(100.0)
    assert score_system([record("c", ["Varn"], "Orrin")])["bleu"] == 0.0


def test_confidence_intervals_bracket_the_means_and_are_reproducible():
    first, second = score_system(hand_worked()), score_system(hand_worked())
    for key in ("em", "f1"):
        low, high = first[f"{key}_ci"]
        assert low <= first[key] <= high
        assert low < high  # the four scores differ, so resampling moves the mean
    assert first["em_ci"] == second["em_ci"] and first["f1_ci"] == second["f1_ci"]


def test_bootstrap_interval_of_constant_scores_has_no_width():
    assert bootstrap_ci([0.5, 0.5, 0.5]) == pytest.approx([0.5, 0.5])


def test_speed_and_token_figures():
    scores = score_system(hand_worked())
    assert scores["latency_p50_s"] == pytest.approx(2.5)
    assert scores["latency_p95_s"] == pytest.approx(3.85)  # linear: 3 + 0.85 * (4 - 3)
    assert scores["answers_per_s"] == pytest.approx(4 / 10)  # sequential: questions / summed latency
    assert score_system(hand_worked(), wall_s=2.0)["answers_per_s"] == pytest.approx(2.0)
    assert scores["tokens_in_mean"] == pytest.approx(20.0)  # q3 reported no usage
    assert scores["tokens_out_mean"] == pytest.approx(3.0)


def test_answer_in_context_matches_whole_normalized_words_only():
    assert answer_in_context(["The Red Fox"], ["Animals | a red fox, running"])
    assert not answer_in_context(["1742"], ["Years | founded in 17420"])
    assert answer_in_context(["Mira Voss", "Voss"], ["Ships | Captain Voss sailed"])
    assert not answer_in_context(["anything"], [])


def test_error_breakdown_and_retrieval_use():
    scores = score_system(hand_worked())
    # q1 right; q2 wrong with "red fox" in its passage; q3 wrong, "voss" never retrieved; q4 empty.
    assert scores["errors"] == {
        "correct": 1,
        "empty": 1,
        "reading_error": 1,
        "retrieval_miss": 1,
        "wrong_closed_book": 0,
        "answered_unanswerable": 0,
        "refused_answerable": 0,
    }
    assert scores["answer_in_context"] == pytest.approx(0.5)
    # Gold passages found: q1 1/1, q2 1/2, q3 0/1; q4 has no gold pids and is skipped.
    assert scores["passage_recall"] == pytest.approx(0.5)


def test_closed_book_system_has_no_retrieval_figures():
    scores = score_system([record("a", ["Paris"], "Lyon"), record("b", ["Rome"], "Rome")])
    assert scores["answer_in_context"] is None and scores["passage_recall"] is None
    assert scores["errors"]["wrong_closed_book"] == 1 and scores["errors"]["correct"] == 1


def test_score_system_refuses_no_records():
    with pytest.raises(ValueError):
        score_system([])


def test_worst_questions_lists_student_misses_with_the_largest_teacher_lead_first():
    student = [
        record("q1", ["Paris"], "Paris"),  # right: never listed
        record("q2", ["the red fox"], "red dog"),  # F1 0.5, teacher 1.0 -> gap 50
        record("q3", ["Mira Voss"], "Lyon"),  # F1 0, teacher 1.0 -> gap 100
        record("q4", ["1742"], "1741"),  # F1 0, teacher 0 -> gap 0
        record("q5", ["Rome"], "Milan"),  # the teacher never answered q5: skipped
    ]
    teacher = [
        record("q1", ["Paris"], "Paris"),
        record("q2", ["the red fox"], "red fox"),
        record("q3", ["Mira Voss"], "Mira Voss"),
        record("q4", ["1742"], "1740"),
    ]
    rows = worst_questions(student, teacher)
    assert [row["qid"] for row in rows] == ["q3", "q2", "q4"]
    assert rows[0]["gap"] == pytest.approx(100.0) and rows[1]["gap"] == pytest.approx(50.0)
    assert rows[1]["student"] == "red dog" and rows[1]["teacher"] == "red fox"
    assert [row["qid"] for row in worst_questions(student, teacher, n=1)] == ["q3"]


def two_hop_case() -> list[AnswerRecord]:
    """A multi-hop program's answers, by hand:

    a  one-hop, right;  gold p1: hop 1 found it             -> all gold yes
    b  one-hop, wrong;  gold p2: no hop found it            -> all gold no
    c  two-hop, right;  gold p3, p4: hop 1 p3, hop 2 p4     -> all gold yes
    d  two-hop, wrong;  gold p5, p6: hop 2 p5, p6 missed    -> all gold no
    one-hop EM 50 (2 questions), two-hop EM 50 (2); all gold 2 of 4; found by hop 1: 2, hop 2: 2, missed 2.
    Searched again: b (one-hop, needlessly), c and d (two-hop); a stopped after its first hop.
    """
    return [
        record("a", ["Paris"], "Paris", gold_pids=["p1"], hop_pids=[["p1", "p9"]], pids=["p1", "p9"]),
        record("b", ["Rome"], "Milan", gold_pids=["p2"], hop_pids=[["p9"], ["p8"]], pids=["p9", "p8"]),
        record("c", ["1742"], "1742", gold_pids=["p3", "p4"], hops=2, hop_pids=[["p3"], ["p3", "p4"]],
               pids=["p3", "p4"]),
        record("d", ["Voss"], "Mira", gold_pids=["p5", "p6"], hops=2, hop_pids=[["p9"], ["p5"]], pids=["p9", "p5"]),
    ]  # fmt: skip


def test_figures_per_question_type_and_hop():
    scores = score_system(two_hop_case())
    assert scores["by_hops"] == {
        "one_hop": {"questions": 2, "em": 50.0, "f1": 50.0, "searched_again": 1},
        "two_hop": {"questions": 2, "em": 50.0, "f1": 50.0, "searched_again": 2},
    }
    assert scores["all_gold_recall"] == pytest.approx(0.5)
    assert scores["gold_found_by_hop"] == {"hop_1": 2, "hop_2": 2, "missed": 2}
    per_question = {q["qid"]: q for q in scores["per_question"]}
    assert per_question["c"]["gold_hops"] == [1, 2] and per_question["d"]["gold_hops"] == [2, None]
    assert [per_question[qid]["all_gold"] for qid in "abcd"] == [True, False, True, False]
    assert [per_question[qid]["searches"] for qid in "abcd"] == [1, 2, 2, 2]
    # A closed-book system has none of the retrieval figures; one-hop data has no two-hop group.
    closed = score_system([record("a", ["Paris"], "Paris", gold_pids=["p1"])])
    assert closed["all_gold_recall"] is None and closed["gold_found_by_hop"] is None
    assert list(closed["by_hops"]) == ["one_hop"] and closed["by_hops"]["one_hop"]["searched_again"] is None


def test_each_hops_query_recall_and_wrong_answers_split_by_gold_passages():
    # Still missing before hop 1: a p1, b p2, c p3+p4, d p5+p6 -> found by a, c: 2 of 4.
    # Before hop 2 (a holds its gold): b p2, c p4, d p5+p6 -> found by c (p4), d (p5): 2 of 3.
    scores = score_system(two_hop_case())
    assert scores["hop_query_recall"] == {
        "hop_1": {"searched": 4, "found": 2, "rate": 0.5},
        "hop_2": {"searched": 3, "found": 2, "rate": pytest.approx(2 / 3)},
    }
    # Wrong: b and d, both lacking a gold passage: retrieval errors.
    assert scores["gold_errors"] == {"reading_error": 0, "retrieval_error": 2}
    # The written query alone (query_pids) is what counts: d's second query found nothing, fusion found p5.
    d = record("d", ["Voss"], "Mira", gold_pids=["p5", "p6"], hops=2, hop_pids=[["p9"], ["p5"]],
               query_pids=[["p9"], ["p7"]], pids=["p9", "p5"])  # fmt: skip
    assert score_system([d])["hop_query_recall"]["hop_2"] == {"searched": 1, "found": 0, "rate": 0.0}
    # Wrong with every gold passage in context: a reading error.
    read = record("r", ["Voss"], "Mira", gold_pids=["p5"], hop_pids=[["p5"]], pids=["p5"])
    assert score_system([read])["gold_errors"] == {"reading_error": 1, "retrieval_error": 0}
    assert score_system([record("x", ["Paris"], "Paris")])["gold_errors"] is None


def test_abstention_precision_and_recall_on_unanswerable_questions():
    records = [
        record("u1", ["unanswerable"], "unanswerable"),  # abstained, rightly
        record("u2", ["unanswerable"], "Paris"),  # answered an unanswerable question
        record("a1", ["Rome"], "Unanswerable."),  # abstained on an answerable one
        record("a2", ["Rome"], "Rome"),
    ]
    scores = score_system(records)
    assert scores["abstention"] == {"unanswerable": 2, "abstained": 2, "precision": 0.5, "recall": 0.5}
    assert scores["em"] == 50.0 and scores["errors"]["answered_unanswerable"] == 1
    assert scores["errors"]["refused_answerable"] == 1  # a1
    assert score_system(records[3:])["abstention"] is None
