"""SaRO's preference pairs over reasoning processes, built by explicit rules (docs/saro.md).

Input rows hold a prompt, whether it is harmful, and candidate completions (a teacher's
samples, or the toy world's). Every candidate is described by measurable facts: its
outcome (refusal or not, by the refusal judge on the final answer; a candidate whose
reasoning never closed has no answer and is never correct), its reasoning steps (lines,
and sentences within a line) and which of them reflect on safety (match
``reflection_pattern``), where its reasoning first reflects (words before the first match;
never is latest), and its reasoning length in words. The rules:

- outcome: on a harmful prompt a refusal beats a compliance, on a benign one the reverse;
  the chosen side is the correct candidate that reflects earliest, every incorrect one is
  rejected.
- process (SaRO's process-level pairs): two candidates that share their first k reasoning
  steps, none of which reflects, and part at step k+1, where the chosen one (correct)
  reflects on safety and the rejected one does not. The shared prefix gives both sides
  the same log-probability ratio, which cancels in DPO's margin, so the pair teaches only
  the step where they part.
- shortest (SaRO's separate efficiency variant, off by default): among correct
  candidates, the shortest reasoning beats the longest (shortest rejection sampling).

Pairs are written in TRL's conversational preference format (prompt/chosen/rejected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxfree.core.errors import InputError
from taxfree.core.io import read_jsonl
from taxfree.core.reasoning import reasoning, truncated
from taxfree.data.datasets import load_rows, render, require_text
from taxfree.evaluation.judges import is_refusal

# A step ends at a line break, or after a sentence's final punctuation followed by a space.
STEP_BOUNDARY = re.compile(r"\n+|(?<=[.!?])\s+")


@dataclass(frozen=True)
class Candidate:
    text: str
    refused: bool
    reflection: float  # words of reasoning before the first safety reflection; inf when there is none
    length: int  # words of reasoning
    truncated: bool  # reasoning opened and never closed: no answer
    steps: tuple[str, ...]  # reasoning steps, whitespace-normalised
    reflects: tuple[bool, ...]  # per step: whether it reflects on safety

    def correct(self, harmful: bool) -> bool:
        """Whether the candidate ends in the answer the prompt calls for: a refusal exactly when it is harmful."""
        return not self.truncated and self.refused == harmful


def reasoning_steps(thought: str) -> tuple[str, ...]:
    """Lines, and sentences within a line, with runs of whitespace made single spaces."""
    return tuple(" ".join(step.split()) for step in STEP_BOUNDARY.split(thought) if step.strip())


def describe(text: str, pattern: re.Pattern[str]) -> Candidate:
    thought = reasoning(text)
    match = pattern.search(thought)
    reflection = float(len(thought[:match.start()].split())) if match else float("inf")
    steps = reasoning_steps(thought)
    return Candidate(text, is_refusal(text), reflection, len(thought.split()), truncated(text), steps,
                     tuple(bool(pattern.search(step)) for step in steps))


def _best(candidates: list[Candidate]) -> Candidate:
    """The candidate a SaRO policy should write: the earliest reflection; on a tie the first, whatever its length
    (brevity is the `shortest` rule's business)."""
    return min(candidates, key=lambda c: c.reflection)


def outcome_pairs(harmful: bool, candidates: list[Candidate]) -> list[tuple[Candidate, Candidate]]:
    correct = [c for c in candidates if c.correct(harmful)]
    wrong = [c for c in candidates if not c.correct(harmful)]
    return [(_best(correct), c) for c in wrong] if correct else []


def parting_step(a: Candidate, b: Candidate) -> int:
    """The number of leading reasoning steps ``a`` and ``b`` share: the index of the step where they part."""
    shared = 0
    while shared < min(len(a.steps), len(b.steps)) and a.steps[shared] == b.steps[shared]:
        shared += 1
    return shared


def process_pairs(harmful: bool, candidates: list[Candidate]) -> list[tuple[Candidate, Candidate]]:
    """Pairs that share a reasoning prefix without reflection and part at the step where the chosen (correct)
    candidate reflects on safety and the rejected one does not (or stops reasoning)."""
    out = []
    for chosen in (c for c in candidates if c.correct(harmful)):
        for rejected in candidates:
            k = parting_step(chosen, rejected)
            if k == len(chosen.steps) or any(chosen.reflects[:k]) or not chosen.reflects[k]:
                continue
            if k == len(rejected.steps) or not rejected.reflects[k]:
                out.append((chosen, rejected))
    return out


def shortest_pairs(harmful: bool, candidates: list[Candidate]) -> list[tuple[Candidate, Candidate]]:
    """SaRO's shortest rejection sampling, an efficiency variant of its own: it trains reasoning length down."""
    correct = [c for c in candidates if c.correct(harmful)]
    if not correct:
        return []
    shortest = min(correct, key=lambda c: (c.length, c.reflection))
    longest = max(correct, key=lambda c: c.length)
    return [(shortest, longest)] if longest.length > shortest.length else []


RULES = {"outcome": outcome_pairs, "process": process_pairs, "shortest": shortest_pairs}


def pairs_for_prompt(prompt: str, harmful: bool, texts: list[str], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Preference rows for one prompt under the rules ``spec`` switches on; a pair found by two rules is kept once."""
    pattern = re.compile(spec["reflection_pattern"])
    candidates = [describe(t, pattern) for t in texts]
    rows, seen = [], set()
    for rule, build in RULES.items():
        if not spec[rule]:
            continue
        for chosen, rejected in build(harmful, candidates):
            if (chosen.text, rejected.text) in seen:
                continue
            seen.add((chosen.text, rejected.text))
            rows.append({"prompt": [{"role": "user", "content": prompt}],
                         "chosen": [{"role": "assistant", "content": chosen.text}],
                         "rejected": [{"role": "assistant", "content": rejected.text}],
                         "rule": rule})
    return rows


def build_pairs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Pairs from a data set (see the schema's ``dataset``, format candidates) by the rules in its ``pairs``.

    Rows hold ``prompt`` (text), ``harmful`` (bool) and ``candidates`` (completion texts).
    """
    source, rows = load_rows(spec)
    out = []
    for lineno, row in enumerate(rows[: spec["max_rows"]] if spec["max_rows"] else rows, start=1):
        prompt = require_text(source, lineno, row, "prompt")
        texts, harmful = row.get("candidates"), row.get("harmful")
        if not (isinstance(texts, list) and all(isinstance(t, str) for t in texts)):
            raise InputError(f"{source}: row {lineno}: field 'candidates' must be a list of texts")
        if not isinstance(harmful, bool):
            raise InputError(f"{source}: row {lineno}: field 'harmful' must be true or false")
        out += pairs_for_prompt(prompt, harmful, texts, spec["pairs"])
    if not out:
        raise InputError(f"{source}: the pair rules found no pairs (no prompt has both a correct and a worse candidate)")
    return out


def load_preference_dataset(path: str | Path, tokenizer: Any) -> Any:
    """Pairs rendered like SFT data (see ``taxfree.data.render``): text prompt, chosen and rejected."""
    from datasets import Dataset  # heavy: only training reads pairs as a Dataset

    def text(row: dict[str, Any], side: str) -> dict[str, str]:
        return render({"prompt": row["prompt"], "completion": row[side]}, tokenizer)

    rows = read_jsonl(path, required=("prompt", "chosen", "rejected"))
    return Dataset.from_list([{"prompt": text(r, "chosen")["prompt"], "chosen": text(r, "chosen")["completion"],
                               "rejected": text(r, "rejected")["completion"]} for r in rows])
