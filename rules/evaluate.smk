# Evaluation: every variant answers every benchmark, then its judge or grader scores the answers; variants
# with training.evaluate_checkpoints also answer those benchmarks with every epoch's model.


rule generate:
    input:
        model=model_ready,
        data=PATHS.benchmark("{benchmark}"),
    output:
        PATHS.generations("{model}", "{variant}", "{benchmark}"),
    log:
        "logs/generate/{model}/{variant}/{benchmark}.log",
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


use rule generate as generate_epoch with:
    input:
        # The epoch's model lies inside the training job's epochs directory, so that directory is the input.
        epochs=lambda wildcards: PATHS.epoch_models(wildcards.model, wildcards.variant),
        data=PATHS.benchmark("{benchmark}"),
    output:
        PATHS.epoch_generations("{model}", "{variant}", "{epoch}", "{benchmark}"),
    log:
        "logs/generate_epoch/{model}/{variant}/{epoch}/{benchmark}.log",
    wildcard_constraints:
        variant=alternation(EPOCH_VARIANTS),
    params:
        model_dir=lambda wildcards: PATHS.epoch_model(
            wildcards.model, wildcards.variant, wildcards.epoch
        ),
        generation=lambda wildcards: generation_params(wildcards.benchmark),
        vllm=vllm_engine,
        load=model_load,
        code=script_code("generate"),


use rule score as score_epoch with:
    input:
        PATHS.epoch_generations("{model}", "{variant}", "{epoch}", "{benchmark}"),
        judge_model=judge_model_input,
    output:
        PATHS.epoch_scores("{model}", "{variant}", "{epoch}", "{benchmark}"),
    log:
        "logs/score_epoch/{model}/{variant}/{epoch}/{benchmark}.log",
    wildcard_constraints:
        variant=alternation(EPOCH_VARIANTS),
