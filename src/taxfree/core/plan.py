"""The grid's GPU jobs and what each needs: the rules' ``resources`` (through rules/common.smk) and
``taxfree plan`` ask the same ``GridResources``, which applies taxfree.core.resources to a resolved config.

Sizes: a model's parameter count comes from its base model's config.json once that exists, before from
the model block's ``params_b``; a data set's or benchmark's rows from its prepared file once that exists,
before from ``expected_rows``, ``max_rows`` or ``resources.default_rows``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from tabulate import tabulate

from taxfree.config.paths import Paths
from taxfree.config.resolve import Variant, epochs_evaluated, epochs_generated, resolve_config
from taxfree.config.schema import validate_config
from taxfree.core import resources
from taxfree.core.errors import ConfigError
from taxfree.core.resources import Estimate
from taxfree.evaluation.judges import JUDGES, ModelJudge


def _lines(path: str) -> int | None:
    """Lines of a prepared JSONL; None while it does not exist."""
    if not Path(path).is_file():
        return None
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


class GridResources:
    """Estimates of every job of a resolved config, by rule; sizes are read once per instance."""

    def __init__(self, config: dict[str, Any], variants: dict[str, Variant]) -> None:
        self.config, self.variants = config, variants
        self.hardware = resources.Hardware.of(config["resources"])
        self.paths = Paths.of(config, config.get("seeds", [0])[0])  # sizes are the same for every seed
        self._params: dict[str, float] = {}
        self._rows: dict[str, int] = {}

    def params(self, model: str) -> float:
        """The model's parameter count (0 when unknown and the jobs run on CPUs)."""
        if model not in self._params:
            block = self.config["models"][model]
            count = resources.params_of_directory(self.paths.base_model(model))
            if count is None and block.get("params_b"):
                count = block["params_b"] * 1e9
            if count is None and self.hardware.gpu_memory_gb is not None:
                raise ConfigError(f"config key 'models.{model}.params_b': the model's size is needed for its GPU "
                                  f"requests and {self.paths.base_model(model)}/config.json does not exist yet; "
                                  "give its parameters in billions")
            self._params[model] = count or 0.0
        return self._params[model]

    def _count(self, path: str, block: dict[str, Any], per_row: int = 1) -> int:
        if path not in self._rows:
            prepared = _lines(path)
            expected = block.get("expected_rows") or block.get("max_rows") or self.config["resources"]["default_rows"]
            self._rows[path] = prepared if prepared is not None else expected * per_row
        return self._rows[path]

    def samples(self, benchmark: str) -> int:
        """Rows to generate: the prepared benchmark holds one per prompt and sample."""
        block = self.config["benchmarks"][benchmark]
        return self._count(self.paths.benchmark(benchmark), block, block["num_samples"])

    def _dtype(self, model: str) -> str:
        return self.config["models"][model].get("dtype", "auto")

    def align(self, model: str, variant: str) -> Estimate:
        v = self.variants[variant]
        spec = v.spec
        pairs = v.method.data == "pairs"
        weights = v.method.weights(spec)
        data = self.paths.pairs(spec["dataset"]) if pairs else self.paths.dataset(spec["dataset"])
        rows = self._count(data, self.config["datasets"][spec["dataset"]])
        # DPO with full weights keeps the reference's weights beside the policy unless it precomputes them.
        reference_copy = pairs and weights == "full" and spec.get("dpo", {}).get("reference") == "model"
        return resources.training(self.params(model), weights, spec["training"], rows, self.hardware,
                                  dtype=self._dtype(model), rank=spec.get("lora", {}).get("rank", 0), pairs=pairs,
                                  reference_copy=reference_copy)

    def fetch_model(self, model: str) -> Estimate:
        return resources.fetch(self.params(model), self.hardware, dtype=self._dtype(model))

    def merge(self, model: str, variant: str) -> Estimate:
        return resources.weight_analysis(self.params(model), self.hardware, on_gpu=False, dtype=self._dtype(model),
                                         writes_model=True)

    def geometry(self, model: str, variant: str) -> Estimate:
        return resources.weight_analysis(self.params(model), self.hardware, on_gpu=True, dtype=self._dtype(model),
                                         writes_model=False)

    def generate_benchmark(self, model: str, benchmark: str) -> Estimate:
        return resources.generation(self.params(model), self.config["benchmarks"][benchmark], self.samples(benchmark),
                                    self.hardware, dtype=self._dtype(model))

    def generate(self, model: str, benchmarks: list[str] | None = None) -> Estimate:
        """A generate job: the benchmarks (default: every one) one after another with the model loaded once."""
        benchmarks = list(self.config["benchmarks"]) if benchmarks is None else benchmarks
        return resources.in_sequence([self.generate_benchmark(model, b) for b in benchmarks])

    def vllm_engine(self, model: str, benchmark: str) -> dict[str, Any]:
        """vllm.LLM's engine settings for the generate job: as many tensor-parallel GPUs as the job asks for."""
        gpus = max(self.generate_benchmark(model, benchmark).gpus, 1)
        return resources.vllm_engine(self.config["benchmarks"][benchmark], self._dtype(model), gpus)

    def judge_params(self, benchmark: str) -> float | None:
        """Size of the local judge model that scores a benchmark; None when scoring runs none (regex judges,
        graders, endpoints)."""
        block = self.config["benchmarks"][benchmark]
        judge = JUDGES.get(block.get("judge", ""))
        if judge is None or not issubclass(judge, ModelJudge) or block["judge_model"]["base_url"]:
            return None
        settings = block["judge_model"]
        name = settings["model"] or judge.default_model
        count = resources.params_of_directory(name) if Path(name).is_dir() else None
        if settings["params_b"]:
            count = settings["params_b"] * 1e9
        elif count is None and name == judge.default_model and judge.default_params_b:
            count = judge.default_params_b * 1e9
        if count is None and self.hardware.gpu_memory_gb is not None:
            raise ConfigError(f"config key 'benchmarks.{benchmark}.judge_model.params_b': the size of judge model "
                              f"{name} is needed for its GPU request; give its parameters in billions")
        return count or 0.0

    def score(self, model: str, benchmark: str) -> Estimate:
        return resources.judging(self.judge_params(benchmark), self.config["benchmarks"][benchmark],
                                 self.samples(benchmark), self.hardware)


@dataclass(frozen=True)
class Job:
    rule: str
    model: str
    variant: str | None
    benchmark: str | None
    estimate: Estimate


def grid_jobs(config: dict[str, Any], variants: dict[str, Variant]) -> list[Job]:
    """Every fetch, training, merge, geometry, generation and scoring job of the grid, with its estimate, in the
    workflow's terms: each hub model is fetched and gets the variants that list it; every variant that trains
    is aligned, every merge merged, every variant that changes weights analysed, every (model, variant)
    answers every benchmark in one job and is scored on each, and every epoch of a variant with
    ``evaluate_checkpoints`` answers those benchmarks. Data preparation, the toy's jobs and the
    aggregates (CPU minutes) are left out."""
    sizes = GridResources(config, variants)
    jobs: list[Job] = []
    for model in config["models"]:
        if config["models"][model]["source"] == "hub":
            jobs.append(Job("fetch_model", model, None, None, sizes.fetch_model(model)))
        names = [name for name, v in variants.items() if model in v.models]
        for name in names:
            v = variants[name]
            if v.method.trains:
                rule = "align_epochs" if epochs_evaluated(v.spec) else "align"
                jobs.append(Job(rule, model, name, None, sizes.align(model, name)))
            if v.spec["method"] == "merge":
                jobs.append(Job("merge", model, name, None, sizes.merge(model, name)))
            if v.spec["method"] != "none":
                jobs.append(Job("geometry", model, name, None, sizes.geometry(model, name)))
        for name in names:
            jobs.append(Job("generate", model, name, None, sizes.generate(model)))
            for benchmark in config["benchmarks"]:
                jobs.append(Job("score", model, name, benchmark, sizes.score(model, benchmark)))
            benchmarks = variants[name].spec.get("training", {}).get("evaluate_checkpoints", [])
            for _ in epochs_generated(variants[name].spec):
                jobs.append(Job("generate_epoch", model, name, None, sizes.generate(model, benchmarks)))
                jobs += [Job("score_epoch", model, name, b, sizes.score(model, b)) for b in benchmarks]
    # Every run seed runs the grid again; hub weights are fetched once for all of them.
    return [job for job in jobs if job.rule == "fetch_model"] + [
        job for _ in config["seeds"] for job in jobs if job.rule != "fetch_model"]


def load_config(path: str | Path, gpu_memory_gb: float | None = None) -> tuple[dict[str, Any], dict[str, Variant]]:
    """A config file validated (defaults filled) and resolved as the workflow does; ``gpu_memory_gb`` replaces
    resources.gpu_memory_gb."""
    config = yaml.safe_load(Path(path).read_text())
    if gpu_memory_gb is not None:
        config.setdefault("resources", {})["gpu_memory_gb"] = gpu_memory_gb
    validate_config(config)
    return resolve_config(config)


def plan(jobs: list[Job], gpu_memory_gb: float | None) -> dict[str, Any]:
    """The jobs as rows, totals (jobs, GPU-hours, disk under results_dir and, by rule, the largest per-GPU peak),
    the largest per-GPU peak overall, and the jobs that cannot fit."""
    rows = [{"rule": j.rule, "model": j.model, "variant": j.variant, "benchmark": j.benchmark, **asdict(j.estimate)}
            for j in jobs]
    by_rule: dict[str, dict[str, float]] = {}
    for row in rows:
        total = by_rule.setdefault(row["rule"], {"jobs": 0, "gpu_hours": 0.0, "disk_gb": 0.0, "peak_gpu_memory_gb": 0.0})
        total["jobs"] += 1
        total["gpu_hours"] += row["gpu_hours"]
        total["disk_gb"] += row["disk_gb"]
        total["peak_gpu_memory_gb"] = max(total["peak_gpu_memory_gb"], row["gpu_memory_gb"])
    largest = max(rows, key=lambda row: row["gpu_memory_gb"], default=None)
    return {
        "gpu_memory_gb": gpu_memory_gb,
        "jobs": rows,
        "totals": {
            "jobs": len(rows),
            "gpu_hours": round(sum(row["gpu_hours"] for row in rows), 1),
            "disk_gb": round(sum(row["disk_gb"] for row in rows), 1),
            "by_rule": {rule: {k: round(v, 1) for k, v in t.items()} for rule, t in by_rule.items()},
            "largest_gpu_memory_gb": largest and {k: largest[k] for k in ("rule", "model", "variant", "benchmark",
                                                                          "gpus", "gpu_memory_gb")},
        },
        "cannot_fit": [job_name(row) for row in rows if not row["fits"]],
    }


def job_name(row: dict[str, Any]) -> str:
    return "/".join(str(row[k]) for k in ("rule", "model", "variant", "benchmark") if row[k] is not None)


def render(summary: dict[str, Any], fmt: str) -> str:
    """The plan as JSON or as a table of jobs followed by the totals."""
    if fmt == "json":
        return json.dumps(summary, indent=2)
    columns = ("rule", "model", "variant", "benchmark", "gpus", "gpu_memory_gb", "mem_mb", "runtime", "gpu_hours",
               "disk_gb", "fits")
    jobs = tabulate([[row[c] if row[c] is not None else "" for c in columns] for row in summary["jobs"]],
                    headers=columns)
    totals = summary["totals"]
    rules = tabulate([[rule, t["jobs"], t["gpu_hours"], t["disk_gb"], t["peak_gpu_memory_gb"]]
                      for rule, t in totals["by_rule"].items()],
                     headers=("rule", "jobs", "gpu_hours", "disk_gb", "peak_gpu_memory_gb"))
    largest = totals["largest_gpu_memory_gb"]
    lines = [jobs, "", rules, "",
             f"total: {totals['jobs']} jobs, {totals['gpu_hours']} GPU-hours, {totals['disk_gb']} GB under results"]
    if largest and largest["gpus"]:
        lines.append(f"largest per-GPU estimate: {largest['gpu_memory_gb']} GB ({job_name(largest)}, "
                     f"{largest['gpus']} GPUs)")
    return "\n".join(lines)
