rule aggregate:
    input:
        [entry["path"] for entry in score_entries()],
    output:
        csv=f"{RESULTS}/summary.csv",
        markdown=f"{RESULTS}/summary.md",
        metrics=f"{RESULTS}/metrics.json",
    log:
        "logs/aggregate.log",
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
    params:
        axes=config["figures"]["tradeoff"],
        code=source_hash("figures", "io"),
    localrule: True
    script:
        "../scripts/figure_tradeoff.py"


rule reasoning_tokens:
    input:
        [entry["path"] for entry in score_entries()],
    output:
        f"{RESULTS}/reasoning_tokens.csv",
    log:
        "logs/reasoning_tokens.log",
    params:
        entries=score_entries(),
        code=source_hash("aggregate", "io"),
    localrule: True
    script:
        "../scripts/reasoning_tokens.py"
