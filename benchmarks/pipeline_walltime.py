"""Wall time of the default pipeline from scratch, and of a second run with nothing to do.

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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, cores: int) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                    "--directory", str(workdir), "--cores", str(cores), "--quiet", "all"], check=True)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, help="keep the run here (default: a temporary directory)")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="taxfree-walltime-"))
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    wall = snakemake(workdir, args.cores)
    noop = snakemake(workdir, args.cores)
    print(json.dumps({"benchmark": "pipeline_walltime", "config": "config.yaml", "cores": args.cores,
                      "wall_s": round(wall, 1), "noop_s": round(noop, 2), "workdir": str(workdir)}))


if __name__ == "__main__":
    main()
