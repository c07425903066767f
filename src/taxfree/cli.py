"""The ``taxfree`` command: judge and grade any JSONL file, SaRO teacher data, mode strings, restore output times,
plan a grid's GPU jobs."""

from __future__ import annotations

import argparse
import json
import sys

import yaml

from taxfree.config.modes import parse_mode
from taxfree.config.schema import load_schema
from taxfree.core.errors import ConfigError, InputError
from taxfree.core.io import read_jsonl, write_jsonl
from taxfree.core.restore import restore_times
from taxfree.evaluation.graders import GRADERS
from taxfree.evaluation.judges import JUDGES
from taxfree.evaluation.scoring import TEXT_FIELDS


def _judge(args: argparse.Namespace) -> None:
    judge = JUDGES[args.judge](json.loads(args.settings))
    write_jsonl(args.out, judge.judge(read_jsonl(args.inp, required=judge.required, text=TEXT_FIELDS)))


def _grade(args: argparse.Namespace) -> None:
    grader = GRADERS[args.grader].for_benchmark({"unsafe_code_execution": args.unsafe_code_execution,
                                                 "code_test": args.code_test})
    write_jsonl(args.out, grader.grade(read_jsonl(args.inp, required=grader.required, text=TEXT_FIELDS)))


def _teacher(args: argparse.Namespace) -> None:
    # torch loads only for this command: judging and grading a file must not wait for it.
    import torch

    from taxfree.data.teacher import teacher_files

    if args.threads:
        torch.set_num_threads(args.threads)
    pattern = args.reflection_pattern or load_schema()["$defs"]["pairs"]["properties"]["reflection_pattern"]["default"]
    teacher_files(args.model, args.prompts, args.candidates, args.traces, args.samples, pattern,
                  args.trust_remote_code, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                  top_p=args.top_p, batch_size=args.batch_size, seed=args.seed)


def _variant_from_mode(args: argparse.Namespace) -> None:
    print(yaml.safe_dump(parse_mode(args.mode, "mode"), sort_keys=False), end="")


def _restore_times(args: argparse.Namespace) -> None:
    print(f"re-stamped {restore_times(args.directory)} outputs in the order Snakemake finished them")


def _plan(args: argparse.Namespace) -> int:
    # The plan imports snakemake's validator: only this command loads it.
    from taxfree.core.plan import grid_jobs, load_config, plan, render

    config, variants = load_config(args.configfile, args.gpu_memory_gb)
    summary = plan(grid_jobs(config, variants), config["resources"]["gpu_memory_gb"])
    print(render(summary, args.format))
    for name in summary["cannot_fit"]:
        print(f"taxfree plan: {name} does not fit on {config['resources']['gpu_memory_gb']} GB GPUs", file=sys.stderr)
    return 1 if summary["cannot_fit"] else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="taxfree", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    judge = sub.add_parser("judge", help="add a judgement field to each row (e.g. refusal)")
    judge.add_argument("--judge", required=True, choices=sorted(JUDGES))
    judge.add_argument("--settings", default="{}", help="the benchmark's judge_model block as JSON (model judges)")
    judge.set_defaults(run=_judge)
    grade = sub.add_parser("grade", help="grade each row: `correct` and `extracted` (toy, math, mcq) or `passed` and `status` (code)")
    grade.add_argument("--grader", required=True, choices=sorted(GRADERS))
    grade.add_argument("--unsafe-code-execution", action="store_true",
                       help="code grader: run model code even where the sandbox's namespaces are unavailable")
    grade.add_argument("--code-test", choices=["check", "script"], default="check",
                       help="code grader: tests that define check(candidate) (HumanEval+) or call the function "
                            "themselves (MBPP+)")
    grade.set_defaults(run=_grade)
    mode = sub.add_parser("variant-from-mode", help="print the variant block that a LoRA-safety authors' mode "
                                                     "string (e.g. lora_up_proj_only_from16_to31_r1) stands for")
    mode.add_argument("mode")
    mode.set_defaults(run=_variant_from_mode)
    restore = sub.add_parser("restore-times", help="after `dvc pull`: give outputs the order Snakemake finished "
                                                   "them in, so `snakemake -n` plans only real changes")
    restore.add_argument("--directory", default=".", help="workflow directory (holds .snakemake/metadata)")
    restore.set_defaults(run=_restore_times)
    teacher = sub.add_parser("teacher", help="SaRO data: sample candidates from a teacher model, and warmup traces")
    teacher.add_argument("--model", required=True, help="teacher model directory or hub id")
    teacher.add_argument("--prompts", required=True, help="JSONL with `prompt` and `harmful` (true/false)")
    teacher.add_argument("--candidates", required=True, help="output: a `candidates` data set for method dpo")
    teacher.add_argument("--traces", required=True, help="output: a `chat` data set for the reasoning-style warmup")
    teacher.add_argument("--samples", type=int, default=4, help="completions per prompt")
    teacher.add_argument("--reflection-pattern", default="", help="regex of a safety reflection (default: the schema's)")
    teacher.add_argument("--max-new-tokens", type=int, default=1024)
    teacher.add_argument("--temperature", type=float, default=1.0)
    teacher.add_argument("--top-p", type=float, default=1.0)
    teacher.add_argument("--batch-size", type=int, default=8)
    teacher.add_argument("--seed", type=int, default=0)
    teacher.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    teacher.add_argument("--trust-remote-code", action="store_true", help="run the model repository's own code")
    teacher.set_defaults(run=_teacher)
    plan = sub.add_parser("plan", help="every GPU job of a grid with its GPUs, peak memory per GPU, host memory, "
                                       "run time and GPU-hours, then totals; exits 1 naming jobs that cannot fit")
    plan.add_argument("--configfile", required=True, help="workflow config, e.g. configs/paper.yaml")
    plan.add_argument("--gpu-memory-gb", type=float, default=None,
                      help="memory of one GPU in GB (default: the config's resources.gpu_memory_gb)")
    plan.add_argument("--format", choices=("json", "table"), default="table")
    plan.set_defaults(run=_plan)
    for command in (judge, grade):
        command.add_argument("--in", dest="inp", required=True, help="input JSONL")
        command.add_argument("--out", required=True, help="output JSONL (written atomically)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status = args.run(args)
    except (InputError, ConfigError, FileNotFoundError) as err:
        print(f"taxfree {args.command}: {err}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
