# Downstream fine-tuning analyses (DESIGN.md section 5): SSAH unit types and pruning, and the figure.


rule ssah_analysis:
    input:
        model=starting_model,
        calibration=keeper_inputs,
        safety=lambda wildcards: f"{RESULTS}/benchmarks/{pruning_benchmark(config)}.jsonl",
    output:
        types=f"{RESULTS}/{{model}}/{{variant}}/ssah/unit_types.csv",
        pruning=f"{RESULTS}/{{model}}/{{variant}}/ssah/pruning.csv",
    log:
        "logs/ssah_analysis/{model}/{variant}.log",
    wildcard_constraints:
        variant=alternation(SSAH_VARIANTS),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["generate_threads"]
    params:
        ssah=lambda wildcards: SPECS[wildcards.variant]["ssah"],
        max_length=lambda wildcards: SPECS[wildcards.variant]["training"]["max_length"],
        benchmark=lambda wildcards: pruning_benchmark(config),
        judge=lambda wildcards: BENCHMARKS[pruning_benchmark(config)]["judge"],
        seed=lambda wildcards: SPECS[wildcards.variant]["training"]["seed"],
        generation=lambda wildcards: generation_params(
            SimpleNamespace(benchmark=pruning_benchmark(config))
        ),
        trust_remote_code=lambda wildcards: MODELS[wildcards.model].get(
            "trust_remote_code", False
        ),
        code=source_hash("ssah", "generate", "judges", "models", "data", "io"),
    script:
        "../scripts/ssah_analysis.py"


rule figure_downstream:
    input:
        rules.aggregate.output.csv,
    output:
        png=report(
            f"{RESULTS}/figures/downstream.png",
            caption="captions/downstream.rst",
            category="Downstream fine-tuning",
        ),
        pdf=f"{RESULTS}/figures/downstream.pdf",
    log:
        "logs/figure_downstream.log",
    localrule: True
    conda:
        "../envs/plotting.yaml"
    params:
        axes=config["figures"].get("downstream", {}),
        variants=downstream_variants(),
        code=source_hash("figures", "io"),
    script:
        "../scripts/figure_downstream.py"
