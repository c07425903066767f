rule aggregate:
    input:
        [entry["path"] for entry in score_entries()],
    output:
        csv=f"{RESULTS}/summary.csv",
        markdown=f"{RESULTS}/summary.md",
        metrics=f"{RESULTS}/metrics.json",
    log:
        "logs/aggregate.log",
    conda:
        "../envs/plotting.yaml"
    params:
        entries=score_entries(),
        benchmarks=BENCHMARKS,
        code=source_hash("aggregate", "metrics", "graders", "judges", "io"),
    localrule: True
    script:
        "../scripts/aggregate.py"


rule figure_tradeoff:
    input:
        rules.aggregate.output.csv,
    output:
        f"{RESULTS}/figures/tradeoff.png",
    log:
        "logs/figure_tradeoff.log",
    conda:
        "../envs/plotting.yaml"
    params:
        axes=config["figures"]["tradeoff"],
        code=source_hash("figures", "io"),
    localrule: True
    script:
        "../scripts/figure_tradeoff.py"
