rule generate:
    input:
        model=model_dir,
        data=lambda wildcards: BENCHMARKS[wildcards.benchmark]["path"],
    output:
        f"{RESULTS}/{{model}}/{{variant}}/generations/{{benchmark}}.jsonl",
    log:
        "logs/generate/{model}/{variant}/{benchmark}.log",
    params:
        generation=generation_params,
        trust_remote_code=lambda wildcards: MODELS[wildcards.model].get("trust_remote_code", False),
        code=source_hash("generate", "models", "judges", "io"),
    threads: config["resources"]["generate_threads"]
    script:
        "../scripts/generate.py"


rule score:
    input:
        f"{RESULTS}/{{model}}/{{variant}}/generations/{{benchmark}}.jsonl",
    output:
        f"{RESULTS}/{{model}}/{{variant}}/scores/{{benchmark}}.jsonl",
    log:
        "logs/score/{model}/{variant}/{benchmark}.log",
    params:
        scorer=scorer_args,
        code=source_hash("judges", "graders", "cli", "io"),
    shell:
        "taxfree {params.scorer} --in {input} --out {output} > {log} 2>&1"
