TOY_SPLITS = [
    "pretrain",
    "refusal",
    "toy_reasoning",
    "toy_harmful",
    "toy_benign",
    "saro_traces",
    "saro_candidates",
    "reasoning",
    "downstream",
    "toy_downstream",
    "harmful_compliance",
    "safety_pairs",
]


rule toyworld:
    output:
        data=expand(f"{RESULTS}/toyworld/data/{{split}}.jsonl", split=TOY_SPLITS),
        init_model=directory(f"{RESULTS}/toyworld/init_model"),
    log:
        "logs/toyworld.log",
    conda:
        "../envs/training.yaml"
    params:
        spec=config["toyworld"],
        code=source_hash("toyworld", "io"),
    script:
        "../scripts/toyworld.py"


rule fetch_model:
    output:
        directory(f"{RESULTS}/{{model}}/base_model"),
    log:
        "logs/fetch_model/{model}.log",
    wildcard_constraints:
        model=models_from("hub"),
    conda:
        "../envs/training.yaml"
    params:
        spec=lambda wildcards: MODELS[wildcards.model],
        code=source_hash("models", "io"),
    script:
        "../scripts/fetch_model.py"


rule prepare_dataset:
    input:
        source=lambda wildcards: local_source(config["datasets"][wildcards.dataset]),
        mix=mixed_in_dataset,
    output:
        f"{RESULTS}/datasets/{{dataset}}.jsonl",
    log:
        "logs/prepare_dataset/{dataset}.log",
    conda:
        "../envs/training.yaml"
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        code=source_hash("data", "io"),
    script:
        "../scripts/prepare_dataset.py"
