# The only place that knows the config's shape: validation, wildcard constraints, input functions.
import re

from snakemake.utils import validate

from taxfree.config import check_references, resolve_training, resolve_variant
from taxfree.provenance import source_hash


validate(config, "../schemas/config.schema.yaml")
check_references(config)

RESULTS = config["results_dir"]
MODELS = config["models"]
VARIANTS = config["variants"]
BENCHMARKS = config["benchmarks"]
TRAINED = [name for name, v in VARIANTS.items() if v["method"] != "none"]


def alternation(names):
    """A regex matching exactly these names (and nothing when there are none)."""
    return "|".join(map(re.escape, names)) or "(?!)"


wildcard_constraints:
    model=alternation(MODELS),
    variant=alternation(VARIANTS),
    benchmark=alternation(BENCHMARKS),


def models_from(source):
    return alternation([name for name, m in MODELS.items() if m["source"] == source])


def model_dir(wildcards):
    """Where the model of a (model, variant) lives: the starting model for method `none`."""
    if VARIANTS[wildcards.variant]["method"] == "none":
        return f"{RESULTS}/{wildcards.model}/base_model"
    return f"{RESULTS}/{wildcards.model}/{wildcards.variant}/model"


def dataset_path(wildcards):
    return config["datasets"][VARIANTS[wildcards.variant]["dataset"]]["path"]


def generation_params(wildcards):
    spec = BENCHMARKS[wildcards.benchmark]
    keys = ("max_new_tokens", "temperature", "top_p", "batch_size", "seed")
    return {key: spec[key] for key in keys}


def scorer_args(wildcards):
    spec = BENCHMARKS[wildcards.benchmark]
    return f"judge --judge {spec['judge']}" if "judge" in spec else f"grade --grader {spec['grader']}"


def scored(model, variant, benchmark):
    return f"{RESULTS}/{model}/{variant}/scores/{benchmark}.jsonl"


def score_entries():
    return [
        {"model": m, "variant": v, "benchmark": b, "path": scored(m, v, b)}
        for m in MODELS
        for v in VARIANTS
        for b in BENCHMARKS
    ]


def final_outputs():
    return [
        f"{RESULTS}/summary.csv",
        f"{RESULTS}/summary.md",
        f"{RESULTS}/figures/tradeoff.png",
    ]
