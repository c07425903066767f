rule prepare_benchmark:
    input:
        lambda wildcards: local_source(BENCHMARKS[wildcards.benchmark]),
    output:
        f"{RESULTS}/benchmarks/{{benchmark}}.jsonl",
    log:
        "logs/prepare_benchmark/{benchmark}.log",
    conda:
        "../envs/evaluation.yaml"
    params:
        spec=lambda wildcards: BENCHMARKS[wildcards.benchmark],
        code=source_hash("evalsets", "data", "io"),
    script:
        "../scripts/prepare_benchmark.py"


rule generate:
    input:
        model=model_dir,
        data=f"{RESULTS}/benchmarks/{{benchmark}}.jsonl",
    output:
        f"{RESULTS}/{{model}}/{{variant}}/generations/{{benchmark}}.jsonl",
    log:
        "logs/generate/{model}/{variant}/{benchmark}.log",
    conda:
        "../envs/evaluation.yaml"
    threads: config["resources"]["generate_threads"]
    resources:
        gpu=config["resources"]["generate_gpus"],
    params:
        generation=generation_params,
        trust_remote_code=lambda wildcards: MODELS[wildcards.model].get(
            "trust_remote_code", False
        ),
        code=source_hash("generate", "models", "judges", "io"),
    script:
        "../scripts/generate.py"


rule score:
    input:
        f"{RESULTS}/{{model}}/{{variant}}/generations/{{benchmark}}.jsonl",
    output:
        f"{RESULTS}/{{model}}/{{variant}}/scores/{{benchmark}}.jsonl",
    log:
        "logs/score/{model}/{variant}/{benchmark}.log",
    conda:
        "../envs/evaluation.yaml"
    params:
        scorer=scorer_args,
        code=source_hash(
            "judges", "graders", "sandbox", "cli", "io", "generate", "models"
        ),
    shell:
        "taxfree {params.scorer} --in {input} --out {output} > {log} 2>&1"
