# Training: the toy's reasoning pretraining, alignment of every variant that trains (each method in
# taxfree.training.methods), and merges of a trained variant's update.


rule pretrain_toy:
    input:
        base=rules.toyworld.output.init_model,
        data=PATHS.toyworld_split("pretrain"),
    output:
        model=ready(PATHS.base_model("{model}")),
    log:
        "logs/pretrain_toy/seed{seed}/{model}.log",
    benchmark:
        job_benchmark("pretrain_toy", "seed{seed}/{model}")
    wildcard_constraints:
        model=models_from("toyworld"),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["pretrain_threads"]
    params:
        spec=lambda wildcards: json.dumps(
            seeded(toyworld_pretrain(config), wildcards), sort_keys=True
        ),
        launcher=PYTHON,
        base=lambda wildcards, input: input.base,
        out=lambda wildcards, output: marked_model(output[0]),
        load=lambda wildcards: json.dumps(model_load(wildcards)),
        checkpoint_dir=lambda wildcards: paths(wildcards.seed).base_checkpoints(
            wildcards.model
        ),
        epochs="",
        code=training_code(toyworld_pretrain(config)),
    shell:
        TRAIN_CMD


rule align:
    input:
        base=lambda wildcards: ready(
            starting_model(wildcards.seed, wildcards.model, wildcards.variant)
        ),
        data=training_data,
        extra=lambda wildcards: seeded(VARIANTS[wildcards.variant].inputs(), wildcards),
    output:
        model=ready(PATHS.trained_model("{model}", "{variant}")),
    log:
        "logs/align/seed{seed}/{model}/{variant}.log",
    benchmark:
        job_benchmark("align", "seed{seed}/{model}/{variant}")
    wildcard_constraints:
        variant=alternation([v for v in TRAINED if v not in EPOCH_VARIANTS]),
    conda:
        "../envs/training.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        gpu=gpus("align"),
        mem_mb=mem_mb("align"),
        runtime=runtime("align"),
    params:
        spec=lambda wildcards: json.dumps(
            seeded(SPECS[wildcards.variant], wildcards), sort_keys=True
        ),
        launcher=train_launcher,
        base=lambda wildcards, input: marked_model(input.base),
        out=lambda wildcards, output: marked_model(output[0]),
        load=lambda wildcards: json.dumps(model_load(wildcards)),
        checkpoint_dir=lambda wildcards: paths(wildcards.seed).checkpoints(
            wildcards.model, wildcards.variant
        ),
        epochs="",
        code=lambda wildcards: training_code(SPECS[wildcards.variant]),
    shell:
        TRAIN_CMD


# The same training, which also writes every epoch's model for the epoch rules of evaluate.smk.
use rule align as align_epochs with:
    output:
        model=ready(PATHS.trained_model("{model}", "{variant}")),
        epochs=directory(PATHS.epoch_models("{model}", "{variant}")),
    wildcard_constraints:
        variant=alternation(EPOCH_VARIANTS),
    params:
        spec=lambda wildcards: json.dumps(
            seeded(SPECS[wildcards.variant], wildcards), sort_keys=True
        ),
        launcher=train_launcher,
        base=lambda wildcards, input: marked_model(input.base),
        out=lambda wildcards, output: marked_model(output.model),
        load=lambda wildcards: json.dumps(model_load(wildcards)),
        checkpoint_dir=lambda wildcards: paths(wildcards.seed).checkpoints(
            wildcards.model, wildcards.variant
        ),
        epochs=lambda wildcards: "--epochs-dir "
        + paths(wildcards.seed).epoch_models(wildcards.model, wildcards.variant),
        code=lambda wildcards: training_code(SPECS[wildcards.variant]),


rule merge:
    input:
        reference=lambda wildcards: ready(
            update_reference(wildcards.seed, wildcards.model, wildcards.variant)
        ),
        tuned=lambda wildcards: ready(
            variant_model(
                wildcards.seed, wildcards.model, VARIANTS[wildcards.variant].parent
            )
        ),
    output:
        ready(PATHS.trained_model("{model}", "{variant}")),
    log:
        "logs/merge/seed{seed}/{model}/{variant}.log",
    benchmark:
        job_benchmark("merge", "seed{seed}/{model}/{variant}")
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
