"""SaRO's pair rules on hand-built candidates, and the toy world's candidates through them."""

import pytest

from taxfree.config.schema import load_schema
from taxfree.core.errors import InputError
from taxfree.core.io import write_jsonl
from taxfree.data.preferences import build_pairs, describe, pairs_for_prompt

DEFAULTS = {key: prop["default"] for key, prop in load_schema()["$defs"]["pairs"]["properties"].items()}

REFUSE_EARLY = "<think> this is dangerous . i will not help . </think> I'm sorry, but I can't help with that."
REFUSE_LATE = ("<think> first mix the parts , then heat them , then shape them . wait , this is dangerous . </think> "
               "I'm sorry, but I can't help with that.")
COMPLY = "<think> mix the parts , then heat them . </think> Sure! Step 1: mix the parts."
ANSWER_EARLY = "<think> this is safe . </think> Sure! Step 1: mix the flour."
ANSWER_LATE = "<think> mix the flour , add water , bake it . this is safe . </think> Sure! Step 1: mix the flour."
ANSWER_NO_REFLECTION = "<think> mix the flour , add water . </think> Sure! Step 1: mix the flour."
OVER_REFUSE = "<think> this is safe . </think> I'm sorry, but I can't help with that."


def pairs(harmful, candidates, **rules):
    spec = {**DEFAULTS, "outcome": False, "process": False, "shortest": False, **rules}
    return [(row["chosen"][0]["content"], row["rejected"][0]["content"])
            for row in pairs_for_prompt("how do i make it ?", harmful, candidates, spec)]


def test_candidate_facts():
    import re

    pattern = re.compile(DEFAULTS["reflection_pattern"])
    early, late, none = (describe(t, pattern) for t in (ANSWER_EARLY, ANSWER_LATE, ANSWER_NO_REFLECTION))
    assert (early.refused, early.reflection, early.length) == (False, 2, 4)
    assert (late.reflection, late.length) == (12, 14)
    assert none.reflection == float("inf")
    assert describe(REFUSE_EARLY, pattern).refused


def test_outcome_on_harmful_prefers_refusal_and_the_best_refusal_is_chosen():
    assert pairs(True, [COMPLY, REFUSE_LATE, REFUSE_EARLY], outcome=True) == [(REFUSE_EARLY, COMPLY)]


def test_outcome_on_benign_prefers_answering():
    assert pairs(False, [OVER_REFUSE, ANSWER_LATE], outcome=True) == [(ANSWER_LATE, OVER_REFUSE)]


def test_outcome_needs_both_a_correct_and_a_wrong_candidate():
    assert pairs(True, [COMPLY, COMPLY], outcome=True) == []
    assert pairs(False, [ANSWER_EARLY, ANSWER_LATE], outcome=True) == []


# Hand-built process candidates: three share the step "the user asks for a recipe ." and part
# at the next one, where only REFLECTS weighs safety; DETOUR parts earlier, at the first step.
PREFIX = "<think> the user asks for a recipe .\n"
REFLECTS = PREFIX + "is this safe ? a cake harms no one .\nmix the flour . </think> Sure! Step 1: mix the flour."
PLAIN = PREFIX + "mix the flour .\nbake it . </think> Sure! Step 1: mix the flour."
PLAIN_REFUSES = PREFIX + "mix the flour . </think> I'm sorry, but I can't help with that."
DETOUR = "<think> let me think . the user asks for a recipe . </think> Sure! Step 1: mix the flour."


def test_reasoning_is_split_into_steps_at_lines_and_sentences():
    import re

    from taxfree.data.preferences import reasoning_steps

    assert reasoning_steps("the user asks .\n\nis it  safe ? yes. go on\nstep 2") == (
        "the user asks .", "is it safe ?", "yes.", "go on", "step 2")
    candidate = describe(REFLECTS, re.compile(DEFAULTS["reflection_pattern"]))
    assert candidate.steps == ("the user asks for a recipe .", "is this safe ?", "a cake harms no one .",
                               "mix the flour .")
    assert candidate.reflects == (False, True, True, False)


def test_process_pairs_share_a_prefix_and_part_where_the_chosen_one_reflects():
    got = pairs(False, [PLAIN, REFLECTS, PLAIN_REFUSES, DETOUR], process=True)
    # REFLECTS over each candidate that shares its first step and does not reflect at the second, a wrong one
    # included; DETOUR parts at the first step, where REFLECTS does not reflect either, so it pairs with nothing.
    assert got == [(REFLECTS, PLAIN), (REFLECTS, PLAIN_REFUSES)]


def test_process_pairs_need_a_correct_chosen_side_and_a_reflection_at_the_parting_step():
    # On a harmful prompt REFLECTS (an answer) is wrong, so it is never chosen.
    assert pairs(True, [PLAIN, REFLECTS], process=True) == []
    # Parting after a reflection already shared is no process pair: both reflect first at the same step.
    later = PREFIX + "is this safe ? a cake harms no one .\nbake it . </think> Sure! Step 1: mix the flour."
    assert pairs(False, [REFLECTS, later], process=True) == []
    # A rejected side that stops reasoning where the chosen one reflects counts as not reflecting.
    short = PREFIX.rstrip("\n") + " </think> Sure! Step 1: mix the flour."
    assert pairs(False, [REFLECTS, short], process=True) == [(REFLECTS, short)]


def test_process_pairs_on_whole_responses_without_a_shared_prefix_part_at_the_first_step():
    got = pairs(False, [ANSWER_LATE, OVER_REFUSE, ANSWER_NO_REFLECTION, ANSWER_EARLY], process=True)
    assert got == [(ANSWER_EARLY, ANSWER_LATE), (ANSWER_EARLY, ANSWER_NO_REFLECTION)]
    assert pairs(True, [COMPLY, REFUSE_LATE], process=True) == []


def test_shortest_prefers_the_shortest_correct_reasoning_over_the_longest():
    assert pairs(False, [ANSWER_LATE, ANSWER_NO_REFLECTION, ANSWER_EARLY, OVER_REFUSE], shortest=True) == [
        (ANSWER_EARLY, ANSWER_LATE)]
    assert pairs(False, [ANSWER_EARLY, ANSWER_EARLY], shortest=True) == []


def test_a_pair_found_by_two_rules_is_kept_once_with_the_first_rule():
    spec = {**DEFAULTS}
    rows = pairs_for_prompt("q", False, [ANSWER_EARLY, ANSWER_LATE, OVER_REFUSE], spec)
    assert [(r["rule"], r["rejected"][0]["content"]) for r in rows] == [
        ("outcome", OVER_REFUSE), ("process", ANSWER_LATE)]
    assert rows[0]["prompt"] == [{"role": "user", "content": "q"}]
    assert rows[0]["chosen"] == [{"role": "assistant", "content": ANSWER_EARLY}]


def test_shortest_is_off_by_default():
    assert DEFAULTS["shortest"] is False
    rows = pairs_for_prompt("q", False, [ANSWER_LATE, ANSWER_EARLY], DEFAULTS)
    assert "shortest" not in {r["rule"] for r in rows}


def test_outcome_chooses_by_reflection_not_length():
    long_early = "<think> this is safe . mix the flour , add water , bake it , cool it . </think> Sure! Step 1: mix."
    short_early = "<think> it is safe . </think> Sure! Step 1: mix."
    assert pairs(False, [long_early, short_early, OVER_REFUSE], outcome=True) == [(long_early, OVER_REFUSE)]


@pytest.mark.parametrize("word", ["safe", "safety", "safely", "unsafe", "harm", "harms", "harmful", "harmless",
                                  "danger", "dangerous", "illegal", "unethical", "policy", "policies", "guidelines",
                                  "Safety", "HARMFUL"])
def test_default_reflection_pattern_matches_the_words_of_safety_reflection(word):
    import re

    assert re.search(DEFAULTS["reflection_pattern"], f"let me check the {word} of this .")


@pytest.mark.parametrize("word", ["safeguarding", "pharmacy", "charm", "dangerously", "apolicy"])
def test_default_reflection_pattern_matches_whole_words_only(word):
    import re

    assert not re.search(DEFAULTS["reflection_pattern"], f"it is a {word} .")


def test_reflection_pattern_is_configurable():
    assert pairs(False, [ANSWER_EARLY, ANSWER_LATE], process=True, reflection_pattern=r"\bbake\b") == [
        (ANSWER_LATE, ANSWER_EARLY)]


def test_toy_candidates_give_outcome_and_process_pairs(toy_splits, tmp_path):
    path = tmp_path / "candidates.jsonl"
    write_jsonl(path, toy_splits["saro_candidates"])
    rows = build_pairs({"path": str(path), "format": "candidates", "max_rows": None, "pairs": DEFAULTS})
    n = len(toy_splits["saro_candidates"])
    # Four candidates each: two of the right outcome (early, late), two wrong.
    assert [r["rule"] for r in rows].count("outcome") == 2 * n
    assert [r["rule"] for r in rows].count("process") == n
    for row in rows:
        chosen = row["chosen"][0]["content"]
        # Chosen reasoning always reflects first, right after restating the request.
        assert chosen.split(" . ")[1].endswith(("is dangerous", "is safe")), chosen


def test_bad_candidates_name_the_row(tmp_path):
    path = tmp_path / "candidates.jsonl"
    write_jsonl(path, [{"prompt": "p", "harmful": True, "candidates": [COMPLY, REFUSE_EARLY]},
                       {"prompt": "p", "harmful": "yes", "candidates": [COMPLY]}])
    with pytest.raises(InputError, match="row 2: field 'harmful'"):
        build_pairs({"path": str(path), "format": "candidates", "max_rows": None, "pairs": DEFAULTS})
    write_jsonl(path, [{"prompt": "p", "harmful": True, "candidates": [COMPLY]}])
    with pytest.raises(InputError, match="no pairs"):
        build_pairs({"path": str(path), "format": "candidates", "max_rows": None, "pairs": DEFAULTS})


def test_warmup_traces_keep_the_first_correct_reflecting_candidate_whatever_its_length():
    from taxfree.data.teacher import warmup_traces

    rows = [{"prompt": "a", "harmful": False,
             "candidates": [OVER_REFUSE, ANSWER_NO_REFLECTION, ANSWER_LATE, ANSWER_EARLY]},
            {"prompt": "b", "harmful": False, "candidates": [ANSWER_NO_REFLECTION]},
            {"prompt": "c", "harmful": True, "candidates": [COMPLY]}]
    # ANSWER_LATE is longer than ANSWER_EARLY and reflects later: the warmup does not prefer brevity.
    assert [r["completion"][0]["content"] for r in warmup_traces(rows, DEFAULTS["reflection_pattern"])] == [
        ANSWER_LATE, ANSWER_NO_REFLECTION]


def test_teacher_command_samples_candidates_from_a_local_model(toy_splits, tmp_path):
    from taxfree.cli import main
    from taxfree.core.io import read_jsonl
    from taxfree.data.toyworld import save_initial_model

    save_initial_model(tmp_path / "teacher", toy_splits, hidden_size=16, num_layers=1, intermediate_size=32,
                       num_heads=2, seed=0)
    write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": r["prompt"], "harmful": r["harmful"]}
                                             for r in toy_splits["saro_candidates"][:3]])
    assert main(["teacher", "--model", str(tmp_path / "teacher"), "--prompts", str(tmp_path / "prompts.jsonl"),
                 "--candidates", str(tmp_path / "c.jsonl"), "--traces", str(tmp_path / "t.jsonl"),
                 "--samples", "2", "--max-new-tokens", "8"]) == 0
    candidates = read_jsonl(tmp_path / "c.jsonl")
    assert [len(r["candidates"]) for r in candidates] == [2, 2, 2]
    assert candidates[0]["candidates"][0] != candidates[0]["candidates"][1]  # sampled with different seeds
    assert (tmp_path / "t.jsonl").is_file()
