# Evaluation: every variant answers every benchmark, then its judge or grader scores the answers; variants
# with training.evaluate_checkpoints also answer those benchmarks with every epoch's model.


# One job per (model, variant) answers every benchmark: the model is loaded once, and on the toy the
# fixed cost of a job (starting Python, importing torch and transformers, loading) was most of a
# benchmark's generation. Each benchmark keeps its own output, so scoring stays per benchmark; a changed
# benchmark setting reruns the variant's whole job (Snakemake reruns jobs, not single outputs).
rule generate:
    input:
        model=model_ready,
        data=[PATHS.benchmark(b) for b in BENCHMARKS],
    output:
        [PATHS.generations("{model}", "{variant}", b) for b in BENCHMARKS],
    log:
        "logs/generate/seed{seed}/{model}/{variant}.log",
    benchmark:
        job_benchmark("generate", "seed{seed}/{model}/{variant}")
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
        "logs/score/seed{seed}/{model}/{variant}/{benchmark}.log",
    benchmark:
        job_benchmark("score", "seed{seed}/{model}/{variant}/{benchmark}")
    conda:
        "../envs/evaluation.yaml"
    threads: config["resources"]["score_threads"]
    resources:
        # A judge model gets a GPU sized for it; graders and regex judges run on CPUs.
        gpu=gpus("score"),
        mem_mb=mem_mb("score"),
        runtime=runtime("score"),
    params:
        benchmark=lambda wildcards: seeded(BENCHMARKS[wildcards.benchmark], wildcards),
        code=script_code("score"),
    script:
        "../scripts/score.py"


# One job per epoch answers every benchmark the variant evaluates its epochs on, loading the epoch's model
# once; the answers go to one directory, as the variant decides which benchmarks they are.
use rule generate as generate_epoch with:
    input:
        # The epoch's model lies inside the training job's epochs directory, so that directory is the input.
        epochs=lambda wildcards: paths(wildcards.seed).epoch_models(
            wildcards.model, wildcards.variant
        ),
        data=lambda wildcards: [
            paths(wildcards.seed).benchmark(b) for b in epoch_benchmarks(wildcards)
        ],
    output:
        directory(PATHS.epoch_generations_dir("{model}", "{variant}", "{epoch}")),
    log:
        "logs/generate_epoch/seed{seed}/{model}/{variant}/{epoch}.log",
    benchmark:
        job_benchmark("generate_epoch", "seed{seed}/{model}/{variant}/{epoch}")
    wildcard_constraints:
        variant=alternation(EPOCH_VARIANTS),
    resources:
        gpu=gpus("generate_epoch"),
        mem_mb=mem_mb("generate_epoch"),
        runtime=runtime("generate_epoch"),
    params:
        model_dir=lambda wildcards: paths(wildcards.seed).epoch_model(
            wildcards.model, wildcards.variant, wildcards.epoch
        ),
        outputs=lambda wildcards: [
            paths(wildcards.seed).epoch_generations(
                wildcards.model, wildcards.variant, wildcards.epoch, b
            )
            for b in epoch_benchmarks(wildcards)
        ],
        generation=lambda wildcards: [
            {**generation_params(b), "vllm": vllm_engine(wildcards.model, b)}
            for b in epoch_benchmarks(wildcards)
        ],
        load=model_load,
        code=script_code("generate"),


use rule score as score_epoch with:
    input:
        PATHS.epoch_generations_dir("{model}", "{variant}", "{epoch}"),
        judge_model=judge_model_input,
    output:
        PATHS.epoch_scores("{model}", "{variant}", "{epoch}", "{benchmark}"),
    log:
        "logs/score_epoch/seed{seed}/{model}/{variant}/{epoch}/{benchmark}.log",
    benchmark:
        job_benchmark("score_epoch", "seed{seed}/{model}/{variant}/{epoch}/{benchmark}")
    wildcard_constraints:
        variant=alternation(EPOCH_VARIANTS),
    params:
        benchmark=lambda wildcards: seeded(BENCHMARKS[wildcards.benchmark], wildcards),
        generations=lambda wildcards: paths(wildcards.seed).epoch_generations(
            wildcards.model, wildcards.variant, wildcards.epoch, wildcards.benchmark
        ),
        code=script_code("score"),
