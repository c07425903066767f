# Weight geometry (DESIGN.md 4.2): merges of a trained variant, the update's stable rank and
# overlap with W0's top-k singular subspaces, and their figures.
from types import SimpleNamespace

from taxfree.config import svd_cache

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


def alpha_sweeps():
    """Merge variants grouped by what they merge and how. A plain sweep also has its `from` at
    alpha 1 and, when that trained from the base model, the `none` variants at alpha 0.
    """
    untrained = [name for name, spec in SPECS.items() if spec["method"] == "none"]
    sweeps = {}
    for name in MERGED:
        spec = SPECS[name]
        merge = spec["merge"]
        label = spec["from"]
        if merge["kind"] == "projected":
            label += f" projected k={merge['k']} {merge['sides']}-sided"
        sweeps.setdefault(label, {})[name] = merge["alpha"]
        if merge["kind"] == "plain":
            sweeps[label][spec["from"]] = 1.0
            if "from" not in SPECS[spec["from"]]:
                sweeps[label].update(dict.fromkeys(untrained, 0.0))
    return sweeps


def geometry_outputs():
    trained = [(m, v) for m in MODELS for v in VARIANTS_OF[m] if v in UPDATED]
    outputs = [geometry_file(m, v) for m, v in trained]
    if trained:
        outputs += [
            f"{RESULTS}/figures/stable_rank.png",
            f"{RESULTS}/figures/overlap.png",
        ]
    if MERGED:
        outputs.append(f"{RESULTS}/figures/alpha_sweep.png")
    return outputs


rule merge:
    input:
        reference=lambda wildcards: update_reference(wildcards.model, wildcards.variant),
        tuned=lambda wildcards: variant_model(
            wildcards.model, SPECS[wildcards.variant]["from"]
        ),
    output:
        directory(f"{RESULTS}/{{model}}/{{variant}}/model"),
    log:
        "logs/merge/{model}/{variant}.log",
    wildcard_constraints:
        variant=alternation(MERGED),
    threads: config["resources"]["train_threads"]
    params:
        spec=lambda wildcards: SPECS[wildcards.variant]["merge"],
        trust_remote_code=lambda wildcards: MODELS[wildcards.model].get(
            "trust_remote_code", False
        ),
        code=source_hash("merge", "geometry", "models", "io"),
    script:
        "../scripts/merge.py"


rule geometry:
    input:
        reference=lambda wildcards: update_reference(wildcards.model, wildcards.variant),
        model=model_dir,
    output:
        geometry_file("{model}", "{variant}"),
    log:
        "logs/geometry/{model}/{variant}.log",
    wildcard_constraints:
        variant=alternation(UPDATED),
    threads: config["resources"]["train_threads"]
    resources:
        # Exact spectral norms of every updated module: a GPU where training has one.
        gpu=min(1, config["resources"]["train_gpus"]),
    params:
        ks=GEOMETRY["ks"],
        niter=GEOMETRY["niter"],
        oversample=GEOMETRY["oversample"],
        svd_cache=svd_cache(config),
        trust_remote_code=lambda wildcards: MODELS[wildcards.model].get(
            "trust_remote_code", False
        ),
        code=source_hash("geometry", "models", "io"),
    script:
        "../scripts/geometry.py"


rule figure_geometry:
    input:
        [geometry_file(m, v) for m in MODELS for v in VARIANTS_OF[m] if v in UPDATED],
    output:
        stable_rank=f"{RESULTS}/figures/stable_rank.png",
        overlap=f"{RESULTS}/figures/overlap.png",
    log:
        "logs/figure_geometry.log",
    localrule: True
    params:
        kinds={v: variant_kind(v) for v in UPDATED},
        code=source_hash("figures", "io"),
    script:
        "../scripts/figure_geometry.py"


rule figure_alpha_sweep:
    input:
        f"{RESULTS}/summary.csv",
    output:
        f"{RESULTS}/figures/alpha_sweep.png",
    log:
        "logs/figure_alpha_sweep.log",
    localrule: True
    params:
        sweeps=alpha_sweeps(),
        axes=config["figures"]["tradeoff"],
        code=source_hash("figures", "io"),
    script:
        "../scripts/figure_alpha_sweep.py"
