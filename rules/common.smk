# The only place that knows the config's shape: validation, resolution, wildcard constraints,
# input functions. Paths come from taxfree.config.paths, methods from the method registry.
import json
import re
import sys
from pathlib import Path

from taxfree.config.paths import (
    Paths,
    complete_marker,
    job_benchmark,
    local_source,
    marked_model,
    svd_cache,
    user_files,
)
from taxfree.config.resolve import (
    epochs_evaluated,
    epochs_generated,
    resolve_config,
    toyworld_pretrain,
)
from taxfree.config.seeds import at_seed
from taxfree.config.schema import definition, validate_config
from taxfree.core.models import load_options
from taxfree.core.plan import GridResources
from taxfree.core.provenance import code_hash, script_imports
from taxfree.report.families import (
    downstream_starts,
    family,
    geometry_variants,
    tradeoff_variants,
)
from taxfree.training.methods import modules_of
from taxfree.training.methods.merge import alpha_sweeps
from taxfree.training.methods.ssah import pruning_benchmark

validate_config(config)
RESOLVED, VARIANTS = resolve_config(config)
SPECS = {name: variant.spec for name, variant in VARIANTS.items()}
SEEDS = config["seeds"]
# Output patterns, with the {seed} wildcard; input functions ask paths(seed) for a job's own seed.
PATHS = Paths.of(config)
SIZES = GridResources(RESOLVED, VARIANTS)

MODELS = config["models"]
DATASETS = RESOLVED["datasets"]
BENCHMARKS = RESOLVED["benchmarks"]
ABLATIONS = config["figures"]["ablations"]
GEOMETRY = config["geometry"]
TOY_SPLITS = definition("toyworld_split")["enum"]
TRAINED = [name for name, v in VARIANTS.items() if v.method.trains]
MERGED = [name for name, v in VARIANTS.items() if v.spec["method"] == "merge"]
# Variants whose every epoch's model is evaluated (training.evaluate_checkpoints).
EPOCH_VARIANTS = [name for name in TRAINED if epochs_evaluated(SPECS[name])]
UPDATED = [name for name, v in VARIANTS.items() if v.spec["method"] != "none"]
# Local files the config reads that the user provides, where they do not exist yet (see rule user_file).
MISSING_USER_FILES = [p for p in user_files(RESOLVED, SPECS) if not Path(p).exists()]
SSAH_VARIANTS = [name for name, spec in SPECS.items() if "ssah" in spec]
# What each figure is about (taxfree.report.families): aligning the starting model, its weight updates,
# and fine-tuning an aligned variant downstream ({variant: the variant it starts from}).
TRADEOFF_VARIANTS = tradeoff_variants(SPECS)
GEOMETRY_VARIANTS = geometry_variants(SPECS)
DOWNSTREAM_STARTS = downstream_starts(SPECS)
VARIANTS_OF = {
    m: [name for name, v in VARIANTS.items() if m in v.models] for m in MODELS
}


def paths(seed):
    return Paths.of(config, seed)


def seeded(value, wildcards):
    """A spec, block or path as the job's run seed sees it (taxfree.config.resolve.at_seed)."""
    return at_seed(value, int(wildcards.seed))


# The interpreter jobs run with, named the same way however Snakemake was started (`snakemake` runs
# as .../bin/python3, `python -m snakemake` as .../bin/python): it is a rerun-triggering param.
PYTHON = str(Path(sys.executable).with_name("python"))
if not Path(PYTHON).exists():
    PYTHON = sys.executable


def alternation(names):
    """A regex matching exactly these names (and nothing when there are none)."""
    return "|".join(map(re.escape, names)) or "(?!)"


wildcard_constraints:
    model=alternation(MODELS),
    variant=alternation(VARIANTS),
    benchmark=alternation(BENCHMARKS),
    dataset=alternation(DATASETS),
    ablation=alternation(ABLATIONS),
    epoch=r"\d+",
    seed=r"-?\d+",


def script_code(name):
    """Fingerprint of the library code a workflow script imports, so that editing it reruns the rule."""
    return code_hash(*script_imports(f"{workflow.basedir}/scripts/{name}.py"))


def model_load(wildcards):
    """load_model's options of the job's model (dtype, attention, remote code): every load uses them."""
    return load_options(MODELS[wildcards.model])


def estimate(step, wildcards):
    """The job's resource estimate (taxfree.core.plan.GridResources, the same numbers `taxfree plan` prints)."""
    if step == "score":
        return SIZES.score(wildcards.model, wildcards.benchmark)
    if step == "generate":
        return SIZES.generate(wildcards.model)
    if step == "generate_epoch":
        return SIZES.generate(wildcards.model, epoch_benchmarks(wildcards))
    if step == "fetch_model":
        return SIZES.fetch_model(wildcards.model)
    return getattr(SIZES, step)(wildcards.model, wildcards.variant)


def gpus(step):
    return lambda wildcards: estimate(step, wildcards).gpus


def mem_mb(step):
    """Host memory; it grows with each retry, so a job killed for memory comes back bigger."""
    return lambda wildcards, attempt: estimate(step, wildcards).mem_mb * attempt


def runtime(step):
    """Minutes; they grow with each retry, as memory does."""
    return lambda wildcards, attempt: estimate(step, wildcards).runtime * attempt


def models_from(source):
    return alternation([name for name, m in MODELS.items() if m["source"] == source])


def variant_model(seed, model, variant):
    """Where the model of a (model, variant) lives: the starting model for a variant that trains nothing."""
    if VARIANTS[variant].spec["method"] == "none":
        return paths(seed).base_model(model)
    return paths(seed).trained_model(model, variant)


def model_dir(wildcards):
    return variant_model(wildcards.seed, wildcards.model, wildcards.variant)


def ready(model_path):
    """What a job takes for a model: its completion marker (a directory without one is rebuilt)."""
    return complete_marker(model_path)


def model_ready(wildcards):
    return ready(model_dir(wildcards))


def starting_model(seed, model, variant):
    """What a variant trains from: its `from` variant's model, else the base model."""
    parent = VARIANTS[variant].parent
    if parent is None:
        return paths(seed).base_model(model)
    return variant_model(seed, model, parent)


def update_reference(seed, model, variant):
    """W0 of a variant's update: the model it trained from (for a merge, its `from` variant's)."""
    if VARIANTS[variant].spec["method"] == "merge":
        return update_reference(seed, model, VARIANTS[variant].parent)
    return starting_model(seed, model, variant)


def training_data(wildcards):
    variant = VARIANTS[wildcards.variant]
    dataset = variant.spec["dataset"]
    at = paths(wildcards.seed)
    return at.pairs(dataset) if variant.method.data == "pairs" else at.dataset(dataset)


def train_launcher(wildcards):
    """Python itself, or `accelerate launch` over the job's GPUs when it has more than one, with the
    accelerate config of what the variant's method trains (full weights or an adapter).
    """
    gpus = estimate("align", wildcards).gpus
    if gpus <= 1:
        return PYTHON
    variant = VARIANTS[wildcards.variant]
    weights = variant.method.weights(variant.spec)
    accelerate_config = config["resources"]["accelerate_config"][weights]
    return f"{PYTHON} -m accelerate.commands.launch --config_file {accelerate_config} --num_processes {gpus}"


def training_code(spec):
    """Fingerprint of the training entry point and of the spec's own methods only: editing SAP
    reruns the SAP variants alone."""
    return code_hash("taxfree.training.__main__", *modules_of(spec))


# taxfree.core.lifetime: the trainer (or accelerate's launcher and through it every rank) dies with
# Snakemake instead of training on as an orphan when Snakemake is killed. `exec`: the job shell
# becomes the trainer, else (with the redirection) it would fork, and a shell outlives Snakemake.
TRAIN_CMD = (
    f"exec {PYTHON} -m taxfree.core.lifetime "
    "{params.launcher} -m taxfree.training --base {params.base} --data {input.data} --spec {params.spec:q}"
    " --out {params.out} --checkpoint-dir {params.checkpoint_dir} --threads {threads} --load {params.load:q}"
    " {params.epochs} > {log} 2>&1"
)


def generation_params(benchmark):
    spec = BENCHMARKS[benchmark]
    keys = ("max_new_tokens", "temperature", "top_p", "batch_size", "backend")
    return {key: spec[key] for key in keys}


def vllm_engine(model, benchmark):
    """vllm.LLM's engine settings (tensor parallel over the job's GPUs); None for the HF backend."""
    if BENCHMARKS[benchmark]["backend"] != "vllm":
        return None
    return SIZES.vllm_engine(model, benchmark)


def judge_model_input(wildcards):
    """A judge model that the pipeline builds itself (a model's base_model, as in configs/smoke.yaml)
    must exist before scoring with it; hub judges are read by the score job."""
    judge = seeded(
        BENCHMARKS[wildcards.benchmark]["judge_model"].get("model"), wildcards
    )
    built = {paths(wildcards.seed).base_model(m) for m in MODELS}
    return [ready(judge)] if judge in built else []


def score_entries():
    return [
        {
            "seed": s,
            "model": m,
            "variant": v,
            "benchmark": b,
            "path": paths(s).scores(m, v, b),
            "prompts": paths(s).benchmark(b),
        }
        for s in SEEDS
        for m in MODELS
        for v in VARIANTS_OF[m]
        for b in BENCHMARKS
    ]


def epoch_benchmarks(wildcards):
    """The benchmarks the job's variant evaluates every epoch on (training.evaluate_checkpoints)."""
    return SPECS[wildcards.variant]["training"]["evaluate_checkpoints"]


def scored_start(model, variant):
    """The variant whose scores are those of the model ``variant`` trains from: its `from` variant, else a
    variant that trains nothing (the base model); None when the grid scores no such variant.
    """
    parent = VARIANTS[variant].parent
    if parent is not None:
        return parent
    untrained = [v for v in VARIANTS_OF[model] if SPECS[v]["method"] == "none"]
    return untrained[0] if untrained else None


def epoch_score_entries():
    """Each evaluated epoch's score files: (seed, model, variant, epoch, benchmark, path); epoch 0 is the model
    the variant trains from, read from its ordinary scores where the grid has them, and the last epoch is the
    variant's final model, read from the variant's own scores."""
    entries = []
    for s, m in [(s, m) for s in SEEDS for m in MODELS]:
        at = paths(s)
        for v in [v for v in VARIANTS_OF[m] if v in EPOCH_VARIANTS]:
            start = scored_start(m, v)
            generated, last = epochs_generated(SPECS[v]), epochs_evaluated(SPECS[v])[-1]
            for b in SPECS[v]["training"]["evaluate_checkpoints"]:
                where = {
                    "seed": s,
                    "model": m,
                    "variant": v,
                    "benchmark": b,
                    "prompts": at.benchmark(b),
                }
                if start is not None:
                    entries.append(
                        {**where, "epoch": 0, "path": at.scores(m, start, b)}
                    )
                entries += [
                    {**where, "epoch": e, "path": at.epoch_scores(m, v, e, b)}
                    for e in generated
                ]
                entries.append({**where, "epoch": last, "path": at.scores(m, v, b)})
    return entries


def model_dirs():
    """[(seed, model, variant, directory of its weights)] for every variant each model gets."""
    return [
        (s, m, v, variant_model(s, m, v))
        for s in SEEDS
        for m in MODELS
        for v in VARIANTS_OF[m]
    ]


def claims_geometry():
    """The geometry tables of every seed that the claims about weight geometry compare."""
    variants = {
        v
        for claim in config["claims"]
        if "geometry" in claim
        for v in claim["variants"]
    }
    return [
        paths(s).geometry(m, v)
        for s in SEEDS
        for m in MODELS
        for v in VARIANTS_OF[m]
        if v in variants
    ]


def figure_families(variants):
    """{variant: method family} for a figure's variants, so every figure colours a family alike."""
    return {v: family(SPECS[v]) for v in variants}


def figure(name, caption, category, **labels):
    """A figure's PNG for the snakemake report (with its caption) and its PDF."""
    png = report(
        PATHS.figure(name, "png"),
        caption=f"captions/{caption}.rst",
        category=category,
        **({"labels": labels} if labels else {}),
    )
    return {"png": png, "pdf": PATHS.figure(name, "pdf")}


def geometry_outputs():
    trained = [(m, v) for m in MODELS for v in VARIANTS_OF[m] if v in UPDATED]
    outputs = [paths(s).geometry(m, v) for s in SEEDS for m, v in trained]
    if any(v in GEOMETRY_VARIANTS for _, v in trained):
        outputs += rules.figure_geometry.output
    if MERGED:
        outputs += rules.figure_alpha_sweep.output
    return outputs


def final_outputs():
    outputs = [
        *rules.aggregate.output,
        *rules.claims.output,
        *rules.figure_tradeoff.output,
        *expand(rules.figure_ablation.output, ablation=ABLATIONS),
        *geometry_outputs(),
        PATHS.result("reasoning_tokens.csv"),
    ]
    if EPOCH_VARIANTS:
        outputs += rules.figure_epochs.output
    if "downstream" in config["figures"]:
        outputs += rules.figure_downstream.output
    return outputs + [
        path
        for s in SEEDS
        for m in MODELS
        for v in VARIANTS_OF[m]
        if v in SSAH_VARIANTS
        for path in expand(rules.ssah_analysis.output, seed=s, model=m, variant=v)
    ]
