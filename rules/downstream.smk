# Downstream fine-tuning analyses (DESIGN.md section 5): SSAH unit types and pruning, and the figure.
from types import SimpleNamespace

SSAH_VARIANTS = [name for name, spec in SPECS.items() if "ssah" in spec]


def safety_benchmark():
    """The first judged safety benchmark: where pruning the safety-critical units is measured."""
    judged = [name for name, b in BENCHMARKS.items() if b["category"] == "safety" and "judge" in b]
    if not judged:
        raise ValueError("ssah variants need a benchmark of category safety with a judge, to validate pruning on")
    return judged[0]


rule ssah_analysis:
    input:
        model=starting_model,
        calibration=keeper_inputs,
        safety=lambda wildcards: f"{RESULTS}/benchmarks/{safety_benchmark()}.jsonl",
    output:
        types=f"{RESULTS}/{{model}}/{{variant}}/ssah/unit_types.csv",
        pruning=f"{RESULTS}/{{model}}/{{variant}}/ssah/pruning.csv",
    log:
        "logs/ssah_analysis/{model}/{variant}.log",
    params:
        ssah=lambda wildcards: SPECS[wildcards.variant]["ssah"],
        max_length=lambda wildcards: SPECS[wildcards.variant]["training"]["max_length"],
        benchmark=lambda wildcards: safety_benchmark(),
        judge=lambda wildcards: BENCHMARKS[safety_benchmark()]["judge"],
        generation=lambda wildcards: generation_params(SimpleNamespace(benchmark=safety_benchmark())),
        trust_remote_code=lambda wildcards: MODELS[wildcards.model].get("trust_remote_code", False),
        code=source_hash("ssah", "generate", "judges", "models", "data", "io"),
    wildcard_constraints:
        variant=alternation(SSAH_VARIANTS),
    threads: config["resources"]["generate_threads"]
    script:
        "../scripts/ssah_analysis.py"


rule figure_downstream:
    input:
        rules.aggregate.output.csv,
    output:
        f"{RESULTS}/figures/downstream.png",
    log:
        "logs/figure_downstream.log",
    params:
        axes=config["figures"].get("downstream", {}),
        variants=downstream_variants(),
        code=source_hash("figures", "io"),
    localrule: True
    script:
        "../scripts/figure_downstream.py"
