"""Wall time of the default pipeline from scratch, and of a second run with nothing to do, with the time
each rule's jobs took (from Snakemake's `benchmark:` files, logs/benchmarks/{rule}/...).

Prints JSON. Runs in a scratch working directory (or --workdir) with the repository's
config.yaml, so it never touches ./results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from taxfree.config.paths import JOB_BENCHMARKS  # noqa: E402  (the repository's own src, not an install)


def snakemake(workdir: Path, cores: int, configfiles: list[Path]) -> float:
    extra = ["--configfile", *map(str, configfiles)] if configfiles else []
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                    "--directory", str(workdir), "--cores", str(cores), "--quiet", *extra, "--", "all"], check=True)
    return time.monotonic() - start


def rule_times(workdir: Path) -> dict[str, dict[str, float]]:
    """{rule: {jobs, sum_s, share, cpu_s}} from every job's benchmark file, the rules with most time first.
    ``cpu_s`` (CPU seconds) hardly depends on what else the machine runs; wall seconds do."""
    jobs: dict[str, list[pd.DataFrame]] = defaultdict(list)
    root = workdir / JOB_BENCHMARKS
    for path in root.rglob("*.tsv"):
        jobs[path.relative_to(root).parts[0].removesuffix(".tsv")].append(pd.read_csv(path, sep="\t"))
    tables = {rule: pd.concat(frames) for rule, frames in jobs.items()}
    total = sum(table["s"].sum() for table in tables.values()) or 1.0
    return {rule: {"jobs": len(table), "sum_s": round(table["s"].sum(), 1), "share": round(table["s"].sum() / total, 3),
                   "cpu_s": round(table["cpu_time"].sum(), 1)}
            for rule, table in sorted(tables.items(), key=lambda item: -item[1]["s"].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, help="keep the run here (default: a temporary directory)")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--configfile", type=Path, nargs="+", default=[],
                        help="config files to run instead of config.yaml, merged in order (e.g. config.yaml "
                             "configs/toy_ablations.yaml)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="taxfree-walltime-"))
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    configfiles = [path.resolve() for path in args.configfile]
    wall = snakemake(workdir, args.cores, configfiles)
    noop = snakemake(workdir, args.cores, configfiles)
    rules = rule_times(workdir)
    print(json.dumps({"benchmark": "pipeline_walltime",
                      "config": [str(path) for path in args.configfile] or "config.yaml", "cores": args.cores,
                      "wall_s": round(wall, 1), "noop_s": round(noop, 2),
                      "jobs": sum(rule["jobs"] for rule in rules.values()),
                      "job_s": round(sum(rule["sum_s"] for rule in rules.values()), 1),
                      "cpu_s": round(sum(rule["cpu_s"] for rule in rules.values()), 1),
                      "rules": rules, "workdir": str(workdir)}, indent=1))


if __name__ == "__main__":
    main()
