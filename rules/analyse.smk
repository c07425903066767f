# Weight-space analysis: each update's stable rank and overlap with W0's top-k singular subspaces, and
# SSAH's unit types with the pruning check that validates them.


rule geometry:
    input:
        reference=lambda wildcards: ready(
            update_reference(wildcards.seed, wildcards.model, wildcards.variant)
        ),
        model=model_ready,
    output:
        PATHS.geometry("{model}", "{variant}"),
    log:
        "logs/geometry/seed{seed}/{model}/{variant}.log",
    benchmark:
        job_benchmark("geometry", "seed{seed}/{model}/{variant}")
    wildcard_constraints:
        variant=alternation(UPDATED),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        # Exact spectral norms of every updated module: a GPU where the grid has them.
        gpu=gpus("geometry"),
        mem_mb=mem_mb("geometry"),
        runtime=runtime("geometry"),
    params:
        ks=GEOMETRY["ks"],
        niter=GEOMETRY["niter"],
        oversample=GEOMETRY["oversample"],
        svd_cache=svd_cache(config),
        load=model_load,
        code=script_code("geometry"),
    script:
        "../scripts/geometry.py"


rule ssah_analysis:
    input:
        model=lambda wildcards: ready(
            starting_model(wildcards.seed, wildcards.model, wildcards.variant)
        ),
        calibration=lambda wildcards: seeded(
            VARIANTS[wildcards.variant].inputs(), wildcards
        ),
        safety=lambda wildcards: paths(wildcards.seed).benchmark(
            pruning_benchmark(RESOLVED)
        ),
    output:
        types=PATHS.ssah("{model}", "{variant}", "unit_types"),
        pruning=PATHS.ssah("{model}", "{variant}", "pruning"),
    log:
        "logs/ssah_analysis/seed{seed}/{model}/{variant}.log",
    benchmark:
        job_benchmark("ssah_analysis", "seed{seed}/{model}/{variant}")
    wildcard_constraints:
        variant=alternation(SSAH_VARIANTS),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["generate_threads"]
    params:
        ssah=lambda wildcards: seeded(SPECS[wildcards.variant]["ssah"], wildcards),
        max_length=lambda wildcards: SPECS[wildcards.variant]["training"]["max_length"],
        benchmark=lambda wildcards: pruning_benchmark(RESOLVED),
        judge=lambda wildcards: BENCHMARKS[pruning_benchmark(RESOLVED)]["judge"],
        seed=lambda wildcards: seeded(SPECS[wildcards.variant]["training"], wildcards)[
            "seed"
        ],
        generation=lambda wildcards: generation_params(pruning_benchmark(RESOLVED)),
        load=model_load,
        code=script_code("ssah_analysis"),
    script:
        "../scripts/ssah_analysis.py"
