# Weight geometry (DESIGN.md 4.2): merges of a trained variant, the update's stable rank and
# overlap with W0's top-k singular subspaces, and their figures.


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
    conda:
        "../envs/training.yaml"
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
    conda:
        "../envs/training.yaml"
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
        stable_rank_png=report(
            f"{RESULTS}/figures/stable_rank.png",
            caption="captions/stable_rank.rst",
            category="Weight geometry",
        ),
        stable_rank_pdf=f"{RESULTS}/figures/stable_rank.pdf",
        overlap_png=report(
            f"{RESULTS}/figures/overlap.png",
            caption="captions/overlap.rst",
            category="Weight geometry",
        ),
        overlap_pdf=f"{RESULTS}/figures/overlap.pdf",
    log:
        "logs/figure_geometry.log",
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        kinds={v: variant_kind(v) for v in UPDATED},
        code=source_hash("figures", "io"),
    script:
        "../scripts/figure_geometry.py"


rule figure_alpha_sweep:
    input:
        f"{RESULTS}/summary.csv",
    output:
        png=report(
            f"{RESULTS}/figures/alpha_sweep.png",
            caption="captions/alpha_sweep.rst",
            category="Weight geometry",
        ),
        pdf=f"{RESULTS}/figures/alpha_sweep.pdf",
    log:
        "logs/figure_alpha_sweep.log",
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        sweeps=alpha_sweeps(SPECS),
        axes=config["figures"]["tradeoff"],
        code=source_hash("figures", "io"),
    script:
        "../scripts/figure_alpha_sweep.py"
