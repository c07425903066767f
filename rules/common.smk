# The only place that knows the config's shape: validation, wildcard constraints, input functions.
import json
import re
import shlex
import sys
from types import SimpleNamespace

from snakemake.utils import validate

from taxfree.config import (
    alpha_sweeps,
    check_references,
    pruning_benchmark,
    resolve_training,
    svd_cache,
    variant_models,
)
from taxfree.provenance import source_hash

validate(config, "../schemas/config.schema.yaml")
SPECS = check_references(config)

RESULTS = config["results_dir"]
MODELS = config["models"]
BENCHMARKS = config["benchmarks"]
ABLATIONS = config["figures"]["ablations"]
TRAINED = [
    name for name, spec in SPECS.items() if spec["method"] not in ("none", "merge")
]
VARIANTS_OF = {
    model: [
        name for name in config["variants"] if model in variant_models(config, name)
    ]
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
    ablation=alternation(ABLATIONS),


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
    spec = SPECS[wildcards.variant]
    # DPO trains on pairs built from candidates (rules/saro.smk), everything else on prepared rows.
    folder = "pairs" if spec["method"] == "dpo" else "datasets"
    return f"{RESULTS}/{folder}/{spec['dataset']}.jsonl"


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
    keys = ("max_new_tokens", "temperature", "top_p", "batch_size", "backend")
    return {key: spec[key] for key in keys}


def scorer_args(wildcards):
    spec = BENCHMARKS[wildcards.benchmark]
    if "judge" in spec:
        return f"judge --judge {spec['judge']} --settings {shlex.quote(json.dumps(spec['judge_model']))}"
    return f"grade --grader {spec['grader']}"


def scored(model, variant, benchmark):
    return f"{RESULTS}/{model}/{variant}/scores/{benchmark}.jsonl"


def score_entries():
    return [
        {"model": m, "variant": v, "benchmark": b, "path": scored(m, v, b)}
        for m in MODELS
        for v in VARIANTS_OF[m]
        for b in BENCHMARKS
    ]


def model_dirs():
    """{model: {variant: directory of its weights}}, for every variant each model gets."""
    return {m: {v: variant_model(m, v) for v in VARIANTS_OF[m]} for m in MODELS}


def downstream_variants():
    """Variants fine-tuned from another, with the variants they start from."""
    children = [
        name
        for name, spec in SPECS.items()
        if "from" in spec and spec["method"] != "merge"
    ]
    return sorted(set(children) | {SPECS[name]["from"] for name in children})


def final_outputs():
    outputs = [
        *rules.aggregate.output,
        *rules.figure_tradeoff.output,
        *expand(rules.figure_ablation.output, ablation=ABLATIONS),
        *geometry_outputs(),
        f"{RESULTS}/reasoning_tokens.csv",
    ]
    if "downstream" in config["figures"]:
        outputs += rules.figure_downstream.output
    return outputs + [
        path
        for m in MODELS
        for v in VARIANTS_OF[m]
        if "ssah" in SPECS[v]
        for path in expand(rules.ssah_analysis.output, model=m, variant=v)
    ]


def trained_weights(spec):
    """`full` or `lora`: what a training job updates, which picks its multi-GPU launch."""
    return spec["dpo"]["parameters"] if spec["method"] == "dpo" else spec["method"]


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
    return (
        "--trust-remote-code" if MODELS[model].get("trust_remote_code", False) else ""
    )


# Weight geometry (DESIGN.md 4.2): which variants are merged or analysed, and against what.
MERGED = [name for name, spec in SPECS.items() if spec["method"] == "merge"]
UPDATED = [name for name, spec in SPECS.items() if spec["method"] != "none"]
GEOMETRY = config["geometry"]


def update_reference(model, variant):
    """W0 of a variant's update: the model it trained from (for a merge, its `from` variant's)."""
    spec = SPECS[variant]
    if spec["method"] == "merge":
        return update_reference(model, spec["from"])
    return starting_model(SimpleNamespace(model=model, variant=variant))


def geometry_file(model, variant):
    return f"{RESULTS}/{model}/{variant}/geometry.parquet"


def variant_kind(variant):
    """How figures label a variant's method: full, lora, lora+reg or merge."""
    spec = SPECS[variant]
    return "lora+reg" if "regularizer" in spec else spec["method"]


def geometry_outputs():
    trained = [(m, v) for m in MODELS for v in VARIANTS_OF[m] if v in UPDATED]
    outputs = [geometry_file(m, v) for m, v in trained]
    if trained:
        outputs += rules.figure_geometry.output
    if MERGED:
        outputs += rules.figure_alpha_sweep.output
    return outputs


def extension_sources(variant):
    """Library modules only some variants train with: editing one reruns just those variants."""
    spec = SPECS[variant]
    extensions = {
        "regularizer": ("regularizers", "geometry"),
        "ssah": ("ssah",),
        "sap": ("sap",),
        "dpo": ("preferences",),
    }
    return tuple(
        name for block, names in extensions.items() if block in spec for name in names
    )


# Downstream fine-tuning (DESIGN.md section 5).
SSAH_VARIANTS = [name for name, spec in SPECS.items() if "ssah" in spec]
