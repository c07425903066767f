"""Config validation and variant resolution: the only code that knows the config's shape.

Snakemake's ``validate`` checks the config against ``schemas/config.schema.yaml`` and
fills defaults. Variants hold *overrides* of the top-level ``training`` and ``lora``
blocks, so they are checked after merging, against the same schema definitions.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value that the schema, or a cross-reference, rejects; the message names the key."""


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@functools.cache
def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The parsed schema, read once per process; callers must not modify it."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def schema_defaults(block: str) -> dict[str, Any]:
    """The defaults of a schema definition's properties."""
    return {key: prop["default"] for key, prop in load_schema()["$defs"][block]["properties"].items()
            if "default" in prop}


def training_defaults() -> dict[str, Any]:
    """The schema's default ``training`` block (the paper's settings)."""
    return schema_defaults("training")


def _check(instance: Any, schema: dict[str, Any], defs: dict[str, Any], where: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator({**schema, "$defs": defs})
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        key = ".".join([where, *map(str, error.absolute_path)])
        raise ConfigError(f"config key '{key}': {error.message}")


DEFAULT_EPOCHS = {"lora": 10, "full": 5, "dpo": 1}  # SFT: the LoRA-safety paper's; DPO: a single pass
_MODE = re.compile(r"lora_(?P<modules>qkvo_mlp|mlp|(?:up|down|gate)_proj_only)(?:_from(?P<lo>\d+)_to(?P<hi>\d+))?"
                   r"_r(?P<rank>\d+)")
_MODE_MODULES = {"qkvo_mlp": ["all"], "mlp": ["mlp"]}


def parse_mode(mode: str, where: str) -> dict[str, Any]:
    """The authors' mode string as a structured variant, e.g. lora_up_proj_only_from16_to31_r1."""
    if mode == "full":
        return {"method": "full"}
    match = _MODE.fullmatch(mode)
    if match is None:
        raise ConfigError(f"config key '{where}': cannot parse mode '{mode}' (forms: full, lora_qkvo_mlp_r8, "
                          "lora_mlp_r8, lora_up_proj_only_r1, lora_up_proj_only_from16_to31_r1)")
    modules = match["modules"]
    lora: dict[str, Any] = {"rank": int(match["rank"]),
                            "target_modules": _MODE_MODULES.get(modules, [modules.removesuffix("_only")])}
    if match["lo"] is not None:
        lora["layers"] = {"from": int(match["lo"]), "to": int(match["hi"])}
    return {"method": "lora", "lora": lora}


def resolve_training(config: dict[str, Any], overrides: dict[str, Any], where: str, method: str) -> dict[str, Any]:
    """The top-level ``training`` block with ``overrides`` applied, checked against the schema."""
    defs = load_schema()["$defs"]
    spec = deep_merge(config["training"], overrides)
    _check(spec, defs["training"], defs, where)
    if spec["num_train_epochs"] is None:
        spec["num_train_epochs"] = DEFAULT_EPOCHS[method]
    return spec


def resolve_variant(config: dict[str, Any], name: str) -> dict[str, Any]:
    """A variant's full spec: method, data set, training and (for LoRA) adapter settings."""
    if name not in config["variants"]:
        raise ConfigError(f"config key 'variants.{name}': no such variant (have: {', '.join(config['variants'])})")
    variant = config["variants"][name]
    if "mode" in variant:
        variant = deep_merge(parse_mode(variant["mode"], f"variants.{name}.mode"),
                             {k: v for k, v in variant.items() if k != "mode"})
    method = variant.get("method")
    if method not in ("none", "full", "lora", "merge", "dpo"):
        raise ConfigError(f"config key 'variants.{name}.method': must be none, full, lora, merge or dpo")
    spec: dict[str, Any] = {"method": method}
    if method == "none":
        return spec
    if "from" in variant:
        spec["from"] = variant["from"]
    for block, owner in (("regularizer", "lora"), ("merge", "merge"), ("dpo", "dpo")):
        if block in variant and method != owner:
            raise ConfigError(f"config key 'variants.{name}.{block}': only `{owner}` variants take it")
    if method == "merge":
        return resolve_merge(config, variant, name)
    dataset = variant.get("dataset")
    if dataset not in config.get("datasets", {}):
        raise ConfigError(f"config key 'variants.{name}.dataset': unknown data set '{dataset}' "
                          f"(have: {', '.join(config.get('datasets', {})) or 'none'})")
    _check_data_format(config["datasets"][dataset], method, f"variants.{name}.dataset")
    spec["dataset"] = dataset
    spec["training"] = resolve_training(config, variant.get("training", {}), f"variants.{name}.training", method)
    if method == "dpo":
        spec["dpo"] = _resolve_block(variant.get("dpo", {}), "dpo", f"variants.{name}.dpo")
    if method == "lora" or spec.get("dpo", {}).get("parameters") == "lora":
        defs = load_schema()["$defs"]
        spec["lora"] = deep_merge(config["lora"], variant.get("lora", {}))
        _check(spec["lora"], defs["lora"], defs, f"variants.{name}.lora")
        if "regularizer" in variant:
            spec["regularizer"] = resolve_regularizer(config, variant["regularizer"], spec["lora"], name)
    elif "lora" in variant:
        raise ConfigError(f"config key 'variants.{name}.lora': only `lora` variants (and `dpo` ones with "
                          "parameters lora) take LoRA settings")
    spec.update(_resolve_keeper(config, name, variant, method))
    return spec


def svd_cache(config: dict[str, Any]) -> str:
    """Where top singular vectors of base weights are cached (shared by analysis, regularizers and merges)."""
    return config.get("geometry", {}).get("svd_cache") or f"{config.get('results_dir', 'results')}/svd_cache"


def resolve_regularizer(config: dict[str, Any], block: dict[str, Any], lora: dict[str, Any],
                        name: str) -> dict[str, Any]:
    """A LoRA variant's overlap regularizer with defaults; every target module must be adapted."""
    from taxfree.models import LINEAR_GROUPS

    spec = _resolve_block(block, "regularizer", f"variants.{name}.regularizer")
    adapted = {module for item in lora["target_modules"] for module in LINEAR_GROUPS.get(item, (item,))}
    missing = [module for module in spec["target_modules"] if module not in adapted]
    if missing:
        raise ConfigError(f"config key 'variants.{name}.regularizer.target_modules': {', '.join(missing)} not adapted "
                          f"by the variant's LoRA (lora.target_modules: {', '.join(lora['target_modules'])})")
    return {**spec, "svd_cache": svd_cache(config)}


def resolve_merge(config: dict[str, Any], variant: dict[str, Any], name: str) -> dict[str, Any]:
    """A merge variant: its `from` variant and the merge settings with defaults."""
    if "from" not in variant:
        raise ConfigError(f"config key 'variants.{name}.from': a merge variant names the variant it merges")
    for key in ("dataset", "training", "lora"):
        if key in variant:
            raise ConfigError(f"config key 'variants.{name}.{key}': a merge variant trains nothing")
    spec = _resolve_block(variant.get("merge", {}), "merge", f"variants.{name}.merge")
    # The projection uses the analysis's accurate SVD settings, so a projected merge measures ~0 overlap.
    geometry = {**schema_defaults("geometry"), **config.get("geometry", {})}
    return {"method": "merge", "from": variant["from"],
            "merge": {**spec, "svd_cache": svd_cache(config), "niter": geometry["niter"],
                      "oversample": geometry["oversample"]}}


def _resolve_block(overrides: dict[str, Any], definition: str, where: str) -> dict[str, Any]:
    """A block with the schema definition's defaults filled in, checked."""
    defs = load_schema()["$defs"]
    block = _defaults(defs[definition], overrides)
    _check(block, defs[definition], defs, where)
    return block


def _check_data_format(dataset: dict[str, Any], method: str, where: str) -> None:
    """DPO trains on preference candidates, SFT on anything else."""
    pairs = dataset.get("format") == "candidates"
    if method == "dpo" and not pairs:
        raise ConfigError(f"config key '{where}': method dpo needs a data set with format candidates")
    if method != "dpo" and pairs:
        raise ConfigError(f"config key '{where}': a data set with format candidates is for method dpo only")


def _defaults(schema: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """``block`` with the schema's defaults filled in, nested objects included."""
    filled = {key: prop["default"] for key, prop in schema["properties"].items() if "default" in prop}
    for key, prop in schema["properties"].items():
        if prop.get("type") == "object" and "properties" in prop:
            filled[key] = _defaults(prop, block.get(key, {}))
    return {**filled, **{k: v for k, v in block.items() if k not in filled or not isinstance(v, dict)}}


def _resolve_keeper(config: dict[str, Any], name: str, variant: dict[str, Any], method: str) -> dict[str, Any]:
    """A variant's `ssah` or `sap` block with defaults filled and its data resolved to the files training reads."""
    where = f"config key 'variants.{name}"
    if "ssah" in variant and "sap" in variant:
        raise ConfigError(f"{where}.sap': a variant takes `ssah` or `sap`, not both")
    if "ssah" in variant:
        if method != "full":
            raise ConfigError(f"{where}.ssah': SSAH unit freezing needs method full")
        ssah = _resolve_block(variant["ssah"], "ssah", f"variants.{name}.ssah")
        for key in ("safety_data", "utility_data"):
            if ssah[key] not in config.get("datasets", {}):
                raise ConfigError(f"{where}.ssah.{key}': unknown data set '{ssah[key]}'")
            ssah[key.replace("_data", "_path")] = f"{config['results_dir']}/datasets/{ssah[key]}.jsonl"
        return {"ssah": ssah}
    if "sap" in variant:
        if method != "lora":
            raise ConfigError(f"{where}.sap': SAP trains LoRA weights; it needs method lora")
        sap = _resolve_block(variant["sap"], "sap", f"variants.{name}.sap")
        sap["pairs_path"] = sap["pairs"]
        return {"sap": sap}
    return {}


def variant_models(config: dict[str, Any], name: str) -> list[str]:
    """The models that get variant ``name``."""
    return config["variants"][name].get("models", list(config["models"]))


def _check_chains(config: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
    """Every ``from`` names a variant that exists for the same models, and no chain loops."""
    for name in specs:
        seen = [name]
        while "from" in specs[seen[-1]]:
            current, parent = seen[-1], specs[seen[-1]]["from"]
            where = f"config key 'variants.{current}.from'"
            if parent not in specs:
                raise ConfigError(f"{where}: no such variant '{parent}' (have: {', '.join(specs)})")
            if parent in seen:
                raise ConfigError(f"{where}: variants start from each other in a loop ({' -> '.join([*seen, parent])})")
            if specs[current]["method"] == "merge" and specs[parent]["method"] not in ("full", "lora"):
                raise ConfigError(f"{where}: a merge needs a trained (full or lora) variant, '{parent}' is "
                                  f"{specs[parent]['method']}")
            missing = set(variant_models(config, current)) - set(variant_models(config, parent))
            if missing:
                raise ConfigError(f"{where}: '{parent}' does not exist for model(s) {', '.join(sorted(missing))}")
            seen.append(parent)


def alpha_sweeps(specs: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Merge variants grouped by what they merge and how, as {label: {variant: alpha}}. A plain sweep
    also has its `from` at alpha 1 and, when that trained from the base model, the `none` variants at 0.
    """
    untrained = [name for name, spec in specs.items() if spec["method"] == "none"]
    sweeps: dict[str, dict[str, float]] = {}
    for name, spec in specs.items():
        if spec["method"] != "merge":
            continue
        merge = spec["merge"]
        label = spec["from"]
        if merge["kind"] == "projected":
            label += f" projected k={merge['k']} {merge['sides']}-sided"
        sweeps.setdefault(label, {})[name] = merge["alpha"]
        if merge["kind"] == "plain":
            sweeps[label][spec["from"]] = 1.0
            if "from" not in specs[spec["from"]]:
                sweeps[label].update(dict.fromkeys(untrained, 0.0))
    return sweeps


def pruning_benchmark(config: dict[str, Any]) -> str:
    """The first judged safety benchmark: where pruning SSAH's safety-critical units is measured."""
    judged = [name for name, b in config["benchmarks"].items() if b["category"] == "safety" and "judge" in b]
    if not judged:
        raise ConfigError("config key 'benchmarks': variants with `ssah` need a benchmark of category safety with "
                          "a judge, to validate pruning on")
    return judged[0]


def check_references(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Checks the schema cannot express (names that must refer to other entries).

    Returns every variant's resolved spec, by name.
    """
    from taxfree.graders import GRADERS
    from taxfree.judges import JUDGES

    specs = {name: resolve_variant(config, name) for name in config["variants"]}
    if any("ssah" in spec for spec in specs.values()):
        pruning_benchmark(config)
    for name, variant in config["variants"].items():
        unknown = [m for m in variant.get("models", []) if m not in config["models"]]
        if unknown:
            raise ConfigError(f"config key 'variants.{name}.models': unknown model(s) {', '.join(unknown)}")
    _check_chains(config, specs)
    for name, dataset in config.get("datasets", {}).items():
        mixed = dataset.get("mix", {}).get("dataset")
        if mixed is not None and (mixed not in config["datasets"] or mixed == name):
            raise ConfigError(f"config key 'datasets.{name}.mix.dataset': '{mixed}' must be another data set "
                              f"(have: {', '.join(config['datasets'])})")
    for name, bench in config["benchmarks"].items():
        if "judge" in bench and bench["judge"] not in JUDGES:
            raise ConfigError(f"config key 'benchmarks.{name}.judge': unknown judge '{bench['judge']}' "
                              f"(have: {', '.join(JUDGES)})")
        if "grader" in bench and bench["grader"] not in GRADERS:
            raise ConfigError(f"config key 'benchmarks.{name}.grader': unknown grader '{bench['grader']}' "
                              f"(have: {', '.join(GRADERS)})")
        if "judge" in bench:
            try:
                JUDGES[bench["judge"]](bench["judge_model"])  # model judges check their settings
            except ConfigError as err:
                raise ConfigError(str(err).replace("config key '", f"config key 'benchmarks.{name}.", 1)) from None
        too_large = [k for k in bench["pass_at_k"] if k > bench["num_samples"]]
        if too_large or (bench["pass_at_k"] and "grader" not in bench):
            raise ConfigError(f"config key 'benchmarks.{name}.pass_at_k': needs a grader and every k at most "
                              f"num_samples ({bench['num_samples']})")
    for figure in ("tradeoff", "downstream"):
        for axis, bench in config["figures"].get(figure, {}).items():
            if bench not in config["benchmarks"]:
                raise ConfigError(f"config key 'figures.{figure}.{axis}': unknown benchmark '{bench}'")
    for name, ablation in config["figures"]["ablations"].items():
        unknown = [v for v in ablation["variants"] if v not in specs]
        if unknown:
            raise ConfigError(f"config key 'figures.ablations.{name}.variants': unknown variant(s) {', '.join(unknown)}")
    if any(m["source"] == "toyworld" for m in config["models"].values()):
        resolve_training(config, config["toyworld"]["pretrain"], "toyworld.pretrain", "full")
    return specs
