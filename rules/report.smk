rule aggregate:
    input:
        scores=[entry["path"] for entry in score_entries()],
        models=sorted({d for dirs in model_dirs().values() for d in dirs.values()}),
    output:
        csv=report(
            f"{RESULTS}/summary.csv",
            caption="captions/summary.rst",
            category="Results",
        ),
        parquet=f"{RESULTS}/summary.parquet",
        markdown=f"{RESULTS}/summary.md",
        metrics=f"{RESULTS}/metrics.json",
        provenance=f"{RESULTS}/provenance.json",
    log:
        "logs/aggregate.log",
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        entries=score_entries(),
        benchmarks=BENCHMARKS,
        specs=SPECS,
        model_dirs=model_dirs(),
        code=source_hash(
            "aggregate", "metrics", "graders", "judges", "io", "provenance"
        ),
    script:
        "../scripts/aggregate.py"


rule figure_tradeoff:
    input:
        rules.aggregate.output.csv,
    output:
        png=report(
            f"{RESULTS}/figures/tradeoff.png",
            caption="captions/tradeoff.rst",
            category="Trade-off",
        ),
        pdf=f"{RESULTS}/figures/tradeoff.pdf",
        points=f"{RESULTS}/figures/tradeoff.csv",
    log:
        "logs/figure_tradeoff.log",
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        axes=config["figures"]["tradeoff"],
        code=source_hash("figures", "io"),
    script:
        "../scripts/figure_tradeoff.py"


rule figure_ablation:
    input:
        rules.aggregate.output.csv,
    output:
        png=report(
            f"{RESULTS}/figures/ablation_{{ablation}}.png",
            caption="captions/ablation.rst",
            category="Ablations",
            labels={"ablation": "{ablation}"},
        ),
        pdf=f"{RESULTS}/figures/ablation_{{ablation}}.pdf",
    log:
        "logs/figure_ablation/{ablation}.log",
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        ablation=lambda wildcards: ABLATIONS[wildcards.ablation],
        code=source_hash("figures", "io"),
    script:
        "../scripts/figure_ablation.py"


rule reasoning_tokens:
    input:
        [entry["path"] for entry in score_entries()],
    output:
        f"{RESULTS}/reasoning_tokens.csv",
    log:
        "logs/reasoning_tokens.log",
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        entries=score_entries(),
        code=source_hash("aggregate", "io"),
    script:
        "../scripts/reasoning_tokens.py"
