# Evaluation: every variant answers every benchmark, then its judge or grader scores the answers.


rule generate:
    input:
        model=model_dir,
        data=PATHS.benchmark("{benchmark}"),
    output:
        PATHS.generations("{model}", "{variant}", "{benchmark}"),
    log:
        "logs/generate/{model}/{variant}/{benchmark}.log",
    benchmark:
        job_benchmark("generate", "{model}/{variant}/{benchmark}"),
    conda:
        "../envs/evaluation.yaml"
    threads: config["resources"]["generate_threads"]
    resources:
        gpu=gpus("generate"),
        mem_mb=mem_mb("generate"),
        runtime=runtime("generate"),
    params:
        generation=lambda wildcards: generation_params(wildcards.benchmark),
        vllm=vllm_engine,
        load=model_load,
        code=script_code("generate"),
    script:
        "../scripts/generate.py"


rule score:
    input:
        PATHS.generations("{model}", "{variant}", "{benchmark}"),
        judge_model=judge_model_input,
    output:
        PATHS.scores("{model}", "{variant}", "{benchmark}"),
    log:
        "logs/score/{model}/{variant}/{benchmark}.log",
    benchmark:
        job_benchmark("score", "{model}/{variant}/{benchmark}"),
    conda:
        "../envs/evaluation.yaml"
    threads: config["resources"]["score_threads"]
    resources:
        # A judge model gets a GPU sized for it; graders and regex judges run on CPUs.
        gpu=gpus("score"),
        mem_mb=mem_mb("score"),
        runtime=runtime("score"),
    params:
        benchmark=lambda wildcards: BENCHMARKS[wildcards.benchmark],
        code=script_code("score"),
    script:
        "../scripts/score.py"
