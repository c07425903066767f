# Data: the toy world, starting models from the hub, training sets, preference pairs, benchmarks.
# The rules that may read the Hugging Face hub are local rules: on a cluster they run on the login
# node, which has network, so compute nodes need none (docs/cluster.md, "Hub assets").


rule toyworld:
    output:
        data=expand(
            PATHS.toyworld_split("{split}"), split=TOY_SPLITS, allow_missing=True
        ),
        init_model=directory(PATHS.toyworld_init_model()),
    log:
        "logs/toyworld/seed{seed}.log",
    benchmark:
        job_benchmark("toyworld", "seed{seed}")
    conda:
        "../envs/training.yaml"
    params:
        spec=lambda wildcards: seeded(config["toyworld"], wildcards),
        code=script_code("toyworld"),
    script:
        "../scripts/toyworld.py"


rule fetch_model:
    output:
        ready(PATHS.hub_model("{model}")),
    log:
        "logs/fetch_model/{model}.log",
    benchmark:
        job_benchmark("fetch_model", "{model}")
    wildcard_constraints:
        model=models_from("hub"),
    localrule: True
    conda:
        "../envs/training.yaml"
    resources:
        # Downloads the hub weights: needs network on the compute node.
        mem_mb=mem_mb("fetch_model"),
        runtime=runtime("fetch_model"),
    params:
        # What is fetched, not the whole block: a changed size estimate (params_b) must not refetch.
        spec=lambda wildcards: {
            key: MODELS[wildcards.model][key] for key in ("id", "revision")
        },
        load=model_load,
        code=script_code("fetch_model"),
    script:
        "../scripts/fetch_model.py"


# A tiny random model of a real architecture; its tokenizer covers the words of every training set and
# benchmark of the config, so those are its inputs.
rule build_tiny_model:
    input:
        [PATHS.benchmark(name) for name in BENCHMARKS]
        + [
            PATHS.dataset(name)
            for name, spec in DATASETS.items()
            if spec["format"] != "candidates"
        ],
    output:
        ready(PATHS.base_model("{model}")),
    log:
        "logs/build_tiny_model/seed{seed}/{model}.log",
    benchmark:
        job_benchmark("build_tiny_model", "seed{seed}/{model}")
    wildcard_constraints:
        model=models_from("tiny_random"),
    conda:
        "../envs/training.yaml"
    params:
        spec=lambda wildcards: seeded(MODELS[wildcards.model]["tiny_random"], wildcards),
        code=script_code("build_tiny_model"),
    script:
        "../scripts/build_tiny_model.py"


rule prepare_dataset:
    input:
        source=lambda wildcards: seeded(
            local_source(config, DATASETS[wildcards.dataset]) or [], wildcards
        ),
        mix=lambda wildcards: [
            paths(wildcards.seed).dataset(mix["dataset"])
            for mix in [DATASETS[wildcards.dataset].get("mix")]
            if mix
        ],
    output:
        PATHS.dataset("{dataset}"),
    log:
        "logs/prepare_dataset/seed{seed}/{dataset}.log",
    benchmark:
        job_benchmark("prepare_dataset", "seed{seed}/{dataset}")
    localrule: True
    conda:
        "../envs/training.yaml"
    params:
        spec=lambda wildcards: seeded(DATASETS[wildcards.dataset], wildcards),
        code=script_code("prepare_dataset"),
    script:
        "../scripts/prepare_dataset.py"


# SaRO (docs/saro.md): preference pairs over reasoning processes, for method dpo.
rule build_pairs:
    input:
        lambda wildcards: seeded(
            local_source(config, DATASETS[wildcards.dataset]) or [], wildcards
        ),
    output:
        PATHS.pairs("{dataset}"),
    log:
        "logs/build_pairs/seed{seed}/{dataset}.log",
    benchmark:
        job_benchmark("build_pairs", "seed{seed}/{dataset}")
    localrule: True
    conda:
        "../envs/training.yaml"
    params:
        spec=lambda wildcards: seeded(DATASETS[wildcards.dataset], wildcards),
        code=script_code("build_pairs"),
    script:
        "../scripts/build_pairs.py"


rule prepare_benchmark:
    input:
        lambda wildcards: seeded(
            local_source(config, BENCHMARKS[wildcards.benchmark]) or [], wildcards
        ),
    output:
        PATHS.benchmark("{benchmark}"),
    log:
        "logs/prepare_benchmark/seed{seed}/{benchmark}.log",
    benchmark:
        job_benchmark("prepare_benchmark", "seed{seed}/{benchmark}")
    localrule: True
    conda:
        "../envs/evaluation.yaml"
    params:
        spec=lambda wildcards: seeded(BENCHMARKS[wildcards.benchmark], wildcards),
        code=script_code("prepare_benchmark"),
    script:
        "../scripts/prepare_benchmark.py"


# A file the config reads and the user provides (e.g. configs/sap.yaml's data): a dry run plans the grid
# without it, and a run stops at once naming it; the config's header says how to make it.
rule user_file:
    output:
        "{user_file}",
    log:
        "logs/user_file/{user_file}.log",
    wildcard_constraints:
        user_file=alternation(MISSING_USER_FILES),
    localrule: True
    conda:
        "../envs/training.yaml"
    shell:
        "echo 'taxfree: {output} is missing: this config reads it and you provide it"
        " (the config file's header says how to make it)' | tee {log} >&2; exit 1"
