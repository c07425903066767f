# Report: the results table, the reasoning-token distribution, and every figure.


rule aggregate:
    input:
        scores=[entry["path"] for entry in score_entries()],
        prompts=sorted({entry["prompts"] for entry in score_entries()}),
        models=sorted({ready(directory) for *_, directory in model_dirs()}),
    output:
        csv=report(
            PATHS.result("summary.csv"),
            caption="captions/summary.rst",
            category="Results",
        ),
        parquet=PATHS.result("summary.parquet"),
        seeds=PATHS.result("summary_seeds.csv"),
        metrics=PATHS.result("metrics.json"),
        provenance=PATHS.result("provenance.json"),
    log:
        "logs/aggregate.log",
    benchmark:
        job_benchmark("aggregate")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        entries=score_entries(),
        benchmarks=BENCHMARKS,
        specs=SPECS,
        model_dirs=model_dirs(),
        code=script_code("aggregate"),
    script:
        "../scripts/aggregate.py"


# The papers' claims (config `claims`), each tested across seeds, and the markdown summary that ends with them.
rule claims:
    input:
        summary=rules.aggregate.output.csv,
        geometry=claims_geometry(),
    output:
        csv=report(
            PATHS.result("claims.csv"),
            caption="captions/claims.rst",
            category="Results",
        ),
        markdown=PATHS.result("summary.md"),
    log:
        "logs/claims.log",
    benchmark:
        job_benchmark("claims")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        claims=config["claims"],
        code=script_code("claims"),
    script:
        "../scripts/claims.py"


rule reasoning_tokens:
    input:
        [entry["path"] for entry in score_entries()],
    output:
        PATHS.result("reasoning_tokens.csv"),
    log:
        "logs/reasoning_tokens.log",
    benchmark:
        job_benchmark("reasoning_tokens")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        entries=score_entries(),
        code=script_code("reasoning_tokens"),
    script:
        "../scripts/reasoning_tokens.py"


rule figure_tradeoff:
    input:
        rules.aggregate.output.csv,
    output:
        **figure("tradeoff", "tradeoff", "Trade-off"),
        points=PATHS.figure("tradeoff", "csv"),
    log:
        "logs/figure_tradeoff.log",
    benchmark:
        job_benchmark("figure_tradeoff")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        axes=config["figures"]["tradeoff"],
        families=figure_families(TRADEOFF_VARIANTS),
        code=script_code("figure_tradeoff"),
    script:
        "../scripts/figure_tradeoff.py"


rule figure_ablation:
    input:
        rules.aggregate.output.csv,
    output:
        **figure("ablation_{ablation}", "ablation", "Ablations", ablation="{ablation}"),
    log:
        "logs/figure_ablation/{ablation}.log",
    benchmark:
        job_benchmark("figure_ablation", "{ablation}")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        ablation=lambda wildcards: ABLATIONS[wildcards.ablation],
        code=script_code("figure_ablation"),
    script:
        "../scripts/figure_ablation.py"


rule figure_geometry:
    input:
        [
            paths(s).geometry(m, v)
            for s in SEEDS
            for m in MODELS
            for v in VARIANTS_OF[m]
            if v in GEOMETRY_VARIANTS
        ],
    output:
        **{
            f"{kind}_{suffix}": path
            for kind in ("stable_rank", "overlap")
            for suffix, path in figure(kind, kind, "Weight geometry").items()
        },
    log:
        "logs/figure_geometry.log",
    benchmark:
        job_benchmark("figure_geometry")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        families=figure_families(GEOMETRY_VARIANTS),
        code=script_code("figure_geometry"),
    script:
        "../scripts/figure_geometry.py"


rule figure_alpha_sweep:
    input:
        rules.aggregate.output.csv,
    output:
        **figure("alpha_sweep", "alpha_sweep", "Weight geometry"),
    log:
        "logs/figure_alpha_sweep.log",
    benchmark:
        job_benchmark("figure_alpha_sweep")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        sweeps=alpha_sweeps(SPECS),
        axes=config["figures"]["tradeoff"],
        code=script_code("figure_alpha_sweep"),
    script:
        "../scripts/figure_alpha_sweep.py"


rule figure_downstream:
    input:
        rules.aggregate.output.csv,
    output:
        **figure("downstream", "downstream", "Downstream fine-tuning"),
    log:
        "logs/figure_downstream.log",
    benchmark:
        job_benchmark("figure_downstream")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        axes=config["figures"].get("downstream", {}),
        families=figure_families(
            sorted({*DOWNSTREAM_STARTS, *DOWNSTREAM_STARTS.values()})
        ),
        starts=DOWNSTREAM_STARTS,
        code=script_code("figure_downstream"),
    script:
        "../scripts/figure_downstream.py"


rule aggregate_epochs:
    input:
        [entry["path"] for entry in epoch_score_entries()],
    output:
        PATHS.result("epochs.csv"),
    log:
        "logs/aggregate_epochs.log",
    benchmark:
        job_benchmark("aggregate_epochs")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        entries=epoch_score_entries(),
        benchmarks=BENCHMARKS,
        code=script_code("aggregate_epochs"),
    script:
        "../scripts/aggregate_epochs.py"


rule figure_epochs:
    input:
        rules.aggregate_epochs.output,
    output:
        **figure("epochs", "epochs", "Results"),
    log:
        "logs/figure_epochs.log",
    benchmark:
        job_benchmark("figure_epochs")
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        families=figure_families(EPOCH_VARIANTS),
        code=script_code("figure_epochs"),
    script:
        "../scripts/figure_epochs.py"
