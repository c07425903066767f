"""Where every artifact lives: the one owner of paths under ``results_dir``.

The workflow's rules and config resolution both ask this class; paths carry their
coordinates (``seed{seed}/{model}/{variant}/...``), so passing wildcard placeholders such as
``"{model}"`` gives the rule's output pattern. Everything a run seed changes lives under
``{results_dir}/seed{seed}/``; what every seed shares (hub weights, the SVD cache, the tables and
figures over all seeds) lives beside those directories.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from taxfree.config.seeds import SEED

# The file a finished model directory (trained, merged, fetched, built) holds, written last.
MODEL_MARKER = "COMPLETE"


@dataclass(frozen=True)
class Paths:
    results: str = "results"
    seed: int | str = SEED
    # Models fetched from the hub: the same weights for every seed, so fetched once.
    hub_models: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, config: dict[str, Any], seed: int | str = SEED) -> Paths:
        hub = frozenset(name for name, spec in config.get("models", {}).items() if spec.get("source") == "hub")
        return cls(config.get("results_dir", "results"), seed, hub)

    @property
    def run(self) -> str:
        """The seed's own directory."""
        return f"{self.results}/seed{self.seed}"

    def toyworld_split(self, split: str) -> str:
        return f"{self.run}/toyworld/data/{split}.jsonl"

    def toyworld_init_model(self) -> str:
        return f"{self.run}/toyworld/init_model"

    def dataset(self, name: str) -> str:
        return f"{self.run}/datasets/{name}.jsonl"

    def pairs(self, name: str) -> str:
        return f"{self.run}/pairs/{name}.jsonl"

    def benchmark(self, name: str) -> str:
        return f"{self.run}/benchmarks/{name}.jsonl"

    def hub_model(self, model: str) -> str:
        """A hub model's weights, fetched once for every seed."""
        return f"{self.results}/hub/{model}"

    def base_model(self, model: str) -> str:
        """What a model's variants start from: its hub weights, or the seed's own pretrained or built model."""
        if model in self.hub_models:
            return self.hub_model(model)
        return f"{self.run}/{model}/base_model"

    def variant_dir(self, model: str, variant: str) -> str:
        return f"{self.run}/{model}/{variant}"

    def trained_model(self, model: str, variant: str) -> str:
        return f"{self.variant_dir(model, variant)}/model"

    def checkpoints(self, model: str, variant: str) -> str:
        return f"{self.variant_dir(model, variant)}/checkpoints"

    def epoch_models(self, model: str, variant: str) -> str:
        """Every epoch's model of a variant with ``training.evaluate_checkpoints``: ``{epoch}/model`` inside."""
        return f"{self.variant_dir(model, variant)}/epochs"

    def epoch_model(self, model: str, variant: str, epoch: int | str) -> str:
        return f"{self.epoch_models(model, variant)}/{epoch}/model"

    def epoch_generations_dir(self, model: str, variant: str, epoch: int | str) -> str:
        """One epoch's answers to every benchmark it is evaluated on (one job writes them all)."""
        # Not under epoch_models: that directory is one output of the training job.
        return f"{self.variant_dir(model, variant)}/by_epoch/{epoch}/generations"

    def epoch_generations(self, model: str, variant: str, epoch: int | str, benchmark: str) -> str:
        return f"{self.epoch_generations_dir(model, variant, epoch)}/{benchmark}.jsonl"

    def epoch_scores(self, model: str, variant: str, epoch: int | str, benchmark: str) -> str:
        return f"{self.variant_dir(model, variant)}/by_epoch/{epoch}/scores/{benchmark}.jsonl"

    def base_checkpoints(self, model: str) -> str:
        return f"{self.base_model(model)}.checkpoints"

    def generations(self, model: str, variant: str, benchmark: str) -> str:
        return f"{self.variant_dir(model, variant)}/generations/{benchmark}.jsonl"

    def scores(self, model: str, variant: str, benchmark: str) -> str:
        return f"{self.variant_dir(model, variant)}/scores/{benchmark}.jsonl"

    def geometry(self, model: str, variant: str) -> str:
        return f"{self.variant_dir(model, variant)}/geometry.parquet"

    def ssah(self, model: str, variant: str, table: str) -> str:
        return f"{self.variant_dir(model, variant)}/ssah/{table}.csv"

    def result(self, name: str) -> str:
        """A table of the whole grid over every seed, e.g. ``summary.csv``."""
        return f"{self.results}/{name}"

    def figure(self, name: str, suffix: str) -> str:
        return f"{self.results}/figures/{name}.{suffix}"

    def svd_cache(self) -> str:
        return f"{self.results}/svd_cache"


def complete_marker(model_dir: str) -> str:
    """The completion marker of a model directory: what rules output and take as input for a model, so
    that a directory without it (a job killed half-way) counts as missing."""
    return f"{model_dir}/{MODEL_MARKER}"


def marked_model(marker: str) -> str:
    """The model directory a completion marker belongs to (what a job reads, given its marker input)."""
    return posixpath.dirname(str(marker))


# Snakemake's `benchmark:` records of every job (wall time, CPU time, peak memory), beside the logs rather
# than under results_dir: they describe a run, not its results. benchmarks/pipeline_walltime.py sums them per rule.
JOB_BENCHMARKS = "logs/benchmarks"


def job_benchmark(rule: str, job: str | None = None) -> str:
    """A rule's benchmark file for one job: ``logs/benchmarks/{rule}/{job}.tsv`` (``{rule}.tsv`` for a rule
    that runs once); ``job`` carries the rule's wildcards, e.g. ``"{model}/{variant}"``."""
    return f"{JOB_BENCHMARKS}/{rule}/{job}.tsv" if job else f"{JOB_BENCHMARKS}/{rule}.tsv"


def svd_cache(config: dict[str, Any]) -> str:
    """Where top singular vectors of base weights are cached (shared by analysis, regularizers and merges)."""
    return config.get("geometry", {}).get("svd_cache") or Paths.of(config).svd_cache()


def local_source(config: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """The local file a data set, benchmark or SAP pair table is read from: its ``path``, or the toy
    world's split it names with ``toyworld``; None for hub sources."""
    if "toyworld" in spec:
        return Paths.of(config).toyworld_split(spec["toyworld"])
    return spec.get("path")



def user_files(config: dict[str, Any], specs: dict[str, dict[str, Any]]) -> list[str]:
    """Local files the config names that no rule makes: data sets' and benchmarks' ``path`` sources and
    SAP's pair tables that are not toy-world splits (the toyworld rule makes those)."""
    sources = [*config.get("datasets", {}).values(), *config["benchmarks"].values()]
    paths = {spec["path"] for spec in sources if "path" in spec and "toyworld" not in spec}
    toyworld = posixpath.dirname(Paths.of(config).toyworld_split("any"))
    paths |= {spec["sap"]["pairs_path"] for spec in specs.values()
              if "sap" in spec and posixpath.dirname(spec["sap"]["pairs_path"]) != toyworld}
    return sorted(paths)
