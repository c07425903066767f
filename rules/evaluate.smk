# Evaluation: every variant answers every benchmark, then its judge or grader scores the answers.


# One job per (model, variant) answers every benchmark: the model is loaded once, and on the toy the
# fixed cost of a job (starting Python, importing torch and transformers, loading) was most of a
# benchmark's generation. Each benchmark keeps its own output, so scoring stays per benchmark; a changed
# benchmark setting reruns the variant's whole job (Snakemake reruns jobs, not single outputs).
rule generate:
    input:
        model=model_dir,
        data=[PATHS.benchmark(b) for b in BENCHMARKS],
    output:
        [PATHS.generations("{model}", "{variant}", b) for b in BENCHMARKS],
    log:
        "logs/generate/{model}/{variant}.log",
    benchmark:
        job_benchmark("generate", "{model}/{variant}")
    conda:
        "../envs/evaluation.yaml"
    threads: config["resources"]["generate_threads"]
    resources:
        gpu=gpus("generate"),
        mem_mb=mem_mb("generate"),
        runtime=runtime("generate"),
    params:
        # In the order of input.data and output: each benchmark's generation settings and vLLM engine.
        generation=lambda wildcards: [
            {**generation_params(b), "vllm": vllm_engine(wildcards.model, b)}
            for b in BENCHMARKS
        ],
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
