"""The ``taxfree`` command: judge and grade any JSONL file."""

from __future__ import annotations

import argparse
import sys

from taxfree.graders import GRADERS
from taxfree.io import InputError, read_jsonl, write_jsonl
from taxfree.judges import JUDGES


def _judge(args: argparse.Namespace) -> None:
    judge = JUDGES[args.judge]()
    write_jsonl(args.out, judge.judge(read_jsonl(args.inp, required=judge.required)))


def _grade(args: argparse.Namespace) -> None:
    grader = GRADERS[args.grader]()
    write_jsonl(args.out, grader.grade(read_jsonl(args.inp, required=grader.required)))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="taxfree", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    judge = sub.add_parser("judge", help="add a judgement field to each row (e.g. refusal)")
    judge.add_argument("--judge", required=True, choices=sorted(JUDGES))
    judge.set_defaults(run=_judge)
    grade = sub.add_parser("grade", help="add `correct` and `extracted` to each row")
    grade.add_argument("--grader", required=True, choices=sorted(GRADERS))
    grade.set_defaults(run=_grade)
    for command in (judge, grade):
        command.add_argument("--in", dest="inp", required=True, help="input JSONL")
        command.add_argument("--out", required=True, help="output JSONL (written atomically)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (InputError, FileNotFoundError) as err:
        print(f"taxfree {args.command}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
