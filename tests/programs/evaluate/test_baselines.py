from programs.evaluate.baselines import questions_for


def test_only_the_systems_compared_with_answer_the_baseline_questions():
    questions = ["q1", "q2", "q3"]
    for name in ("teacher_zero_shot", "teacher_compiled", "student_base", "student_distilled@bm25"):
        assert questions_for(name, questions, 1) == ["q1"]
        assert questions_for(name, questions, None) == questions
    for name in ("student_distilled", "student_distilled_closed_book"):
        assert questions_for(name, questions, 1) == questions
