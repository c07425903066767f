# Evaluation: every variant answers every benchmark, then its judge or grader scores the answers.


rule generate:
    input:
        model=model_dir,
        data=PATHS.benchmark("{benchmark}"),
    output:
        PATHS.generations("{model}", "{variant}", "{benchmark}"),
    log:
        "logs/generate/{model}/{variant}/{benchmark}.log",
    conda:
        "../envs/evaluation.yaml"
    threads: config["resources"]["generate_threads"]
    resources:
        gpu=config["resources"]["generate_gpus"],
    params:
        generation=lambda wildcards: generation_params(wildcards.benchmark),
        trust_remote_code=trust_remote_code,
        code=script_code("generate"),
    script:
        "../scripts/generate.py"


rule score:
    input:
        PATHS.generations("{model}", "{variant}", "{benchmark}"),
    output:
        PATHS.scores("{model}", "{variant}", "{benchmark}"),
    log:
        "logs/score/{model}/{variant}/{benchmark}.log",
    conda:
        "../envs/evaluation.yaml"
    threads: config["resources"]["score_threads"]
    params:
        benchmark=lambda wildcards: BENCHMARKS[wildcards.benchmark],
        code=script_code("score"),
    script:
        "../scripts/score.py"
