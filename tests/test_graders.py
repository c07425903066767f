from taxfree.graders import GRADERS


def test_toy_grader_extracts_final_answer():
    grader = GRADERS["toy"]()
    rows = [
        {"response": "<think> 1 plus 2 is 3 . </think> the answer is 3 .", "answer": "3"},
        {"response": "<think> 1 plus 2 is 4 . </think> the answer is 4 .", "answer": "3"},
        # The reasoning block is not the answer.
        {"response": "<think> the answer is 3 </think> i do not know .", "answer": "3"},
        {"response": "<think> 1 plus 2 is", "answer": "3"},
    ]
    graded = grader.grade(rows)
    assert [r["correct"] for r in graded] == [True, False, False, False]
    assert [r["extracted"] for r in graded] == ["3", "4", None, None]
