# Training: the toy's reasoning pretraining, alignment of every variant that trains (each method in
# taxfree.training.methods), and merges of a trained variant's update.


rule pretrain_toy:
    input:
        base=rules.toyworld.output.init_model,
        data=PATHS.toyworld_split("pretrain"),
    output:
        directory(PATHS.base_model("{model}")),
    log:
        "logs/pretrain_toy/{model}.log",
    benchmark:
        job_benchmark("pretrain_toy", "{model}"),
    wildcard_constraints:
        model=models_from("toyworld"),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["pretrain_threads"]
    params:
        spec=json.dumps(toyworld_pretrain(config), sort_keys=True),
        launcher=PYTHON,
        load=lambda wildcards: json.dumps(model_load(wildcards)),
        checkpoint_dir=lambda wildcards: PATHS.base_checkpoints(wildcards.model),
        code=training_code(toyworld_pretrain(config)),
    shell:
        TRAIN_CMD


rule align:
    input:
        base=lambda wildcards: starting_model(wildcards.model, wildcards.variant),
        data=training_data,
        extra=lambda wildcards: VARIANTS[wildcards.variant].inputs(),
    output:
        directory(PATHS.trained_model("{model}", "{variant}")),
    log:
        "logs/align/{model}/{variant}.log",
    benchmark:
        job_benchmark("align", "{model}/{variant}"),
    wildcard_constraints:
        variant=alternation(TRAINED),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        gpu=gpus("align"),
        mem_mb=mem_mb("align"),
        runtime=runtime("align"),
    params:
        spec=lambda wildcards: json.dumps(SPECS[wildcards.variant], sort_keys=True),
        launcher=train_launcher,
        load=lambda wildcards: json.dumps(model_load(wildcards)),
        checkpoint_dir=lambda wildcards: PATHS.checkpoints(
            wildcards.model, wildcards.variant
        ),
        code=lambda wildcards: training_code(SPECS[wildcards.variant]),
    shell:
        TRAIN_CMD


rule merge:
    input:
        reference=lambda wildcards: update_reference(wildcards.model, wildcards.variant),
        tuned=lambda wildcards: variant_model(
            wildcards.model, VARIANTS[wildcards.variant].parent
        ),
    output:
        directory(PATHS.trained_model("{model}", "{variant}")),
    log:
        "logs/merge/{model}/{variant}.log",
    benchmark:
        job_benchmark("merge", "{model}/{variant}"),
    wildcard_constraints:
        variant=alternation(MERGED),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=mem_mb("merge"),
        runtime=runtime("merge"),
    params:
        spec=lambda wildcards: SPECS[wildcards.variant]["merge"],
        load=model_load,
        code=script_code("merge"),
    script:
        "../scripts/merge.py"
