# The only place that knows the config's shape: validation, wildcard constraints, input functions.
import json
import re
import sys

from snakemake.utils import validate

from taxfree.config import check_references, resolve_training
from taxfree.provenance import source_hash


validate(config, "../schemas/config.schema.yaml")
SPECS = check_references(config)

RESULTS = config["results_dir"]
MODELS = config["models"]
BENCHMARKS = config["benchmarks"]
TRAINED = [name for name, spec in SPECS.items() if spec["method"] != "none"]
VARIANTS_OF = {
    model: [name for name, v in config["variants"].items() if model in v.get("models", MODELS)]
    for model in MODELS
}


def alternation(names):
    """A regex matching exactly these names (and nothing when there are none)."""
    return "|".join(map(re.escape, names)) or "(?!)"


wildcard_constraints:
    model=alternation(MODELS),
    variant=alternation(SPECS),
    benchmark=alternation(BENCHMARKS),
    dataset=alternation(config["datasets"]),


def models_from(source):
    return alternation([name for name, m in MODELS.items() if m["source"] == source])


def variant_model(model, variant):
    """Where the model of a (model, variant) lives: the base model for method `none`."""
    if SPECS[variant]["method"] == "none":
        return f"{RESULTS}/{model}/base_model"
    return f"{RESULTS}/{model}/{variant}/model"


def model_dir(wildcards):
    return variant_model(wildcards.model, wildcards.variant)


def starting_model(wildcards):
    """What a variant trains from: its `from` variant's model, else the base model."""
    parent = SPECS[wildcards.variant].get("from")
    if parent is None:
        return f"{RESULTS}/{wildcards.model}/base_model"
    return variant_model(wildcards.model, parent)


def prepared_dataset(wildcards):
    return f"{RESULTS}/datasets/{SPECS[wildcards.variant]['dataset']}.jsonl"


def keeper_inputs(wildcards):
    """Files an `ssah` or `sap` variant reads besides its training set: calibration data, safety pairs."""
    spec = SPECS[wildcards.variant]
    if "ssah" in spec:
        return [spec["ssah"]["safety_path"], spec["ssah"]["utility_path"]]
    return [spec["sap"]["pairs_path"]] if "sap" in spec else []


def local_source(spec):
    """The local file a data set or benchmark is read from; hub ones have none."""
    return [spec["path"]] if "path" in spec else []


def mixed_in_dataset(wildcards):
    """The prepared data set whose rows a data set's `mix` draws from, if it has one."""
    mix = config["datasets"][wildcards.dataset].get("mix")
    return [f"{RESULTS}/datasets/{mix['dataset']}.jsonl"] if mix else []


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
        for v in VARIANTS_OF[m]
        for b in BENCHMARKS
    ]


def downstream_variants():
    """Variants fine-tuned from another, with the variants they start from."""
    children = [name for name, spec in SPECS.items() if "from" in spec]
    return sorted(set(children) | {SPECS[name]["from"] for name in children})


def final_outputs():
    outputs = [
        f"{RESULTS}/summary.csv",
        f"{RESULTS}/summary.md",
        f"{RESULTS}/metrics.json",
        f"{RESULTS}/figures/tradeoff.png",
    ]
    if "downstream" in config["figures"]:
        outputs.append(f"{RESULTS}/figures/downstream.png")
    return outputs + [f"{RESULTS}/{m}/{v}/ssah/{kind}.csv" for m in MODELS for v in VARIANTS_OF[m]
                      if "ssah" in SPECS[v] for kind in ("unit_types", "pruning")]


def train_launcher(method):
    """Python itself, or `accelerate launch` over the job's GPUs when it has more than one."""
    gpus = config["resources"]["train_gpus"]
    if gpus <= 1:
        return sys.executable
    accelerate_config = config["resources"]["accelerate_config"][method]
    return f"{sys.executable} -m accelerate.commands.launch --config_file {accelerate_config} --num_processes {gpus}"


TRAIN_CMD = (
    "{params.launcher} -m taxfree.cli train --base {input.base} --data {input.data} --spec {params.spec:q}"
    " --out {output} --checkpoint-dir {params.checkpoint_dir} --threads {threads} {params.remote_code}"
    " > {log} 2>&1"
)


def remote_code_flag(model):
    return "--trust-remote-code" if MODELS[model].get("trust_remote_code", False) else ""
