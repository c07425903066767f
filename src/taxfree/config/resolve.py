"""Config resolution: the checks the schema cannot express, and every variant's resolved spec.

The workflow validates the config against the schema (``validate_config``, filling defaults), then calls
``resolve_config`` once. Variants hold *overrides* of the top-level ``training`` and
``lora`` blocks, so they are checked after merging; what each method reads is the
method's own business (``taxfree.training.methods``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taxfree.config.paths import local_source
from taxfree.config.schema import check_finite, resolve_training
from taxfree.core.errors import ConfigError
from taxfree.data.templates import TEMPLATES
from taxfree.evaluation.graders import GRADERS
from taxfree.evaluation.judges import JUDGES
from taxfree.training.methods import Extension, Method, base_methods, extension_of, resolve_methods

TOYWORLD_PRETRAIN_EPOCHS = 5  # full fine-tuning's default, if the toy's pretraining sets none


@dataclass(frozen=True)
class Variant:
    """A variant resolved once: its settings (``spec``, what training reads, hashes and tables) and the
    methods that make it."""

    name: str
    spec: dict[str, Any]
    models: tuple[str, ...]
    method: Method = field(repr=False)
    extension: Extension | None = field(repr=False)

    @property
    def parent(self) -> str | None:
        """The variant it starts from (``from``), if any."""
        return self.spec.get("from")

    def inputs(self) -> list[str]:
        """Files training reads besides its data set."""
        return self.extension.inputs(self.spec) if self.extension else []


def resolve_variant(config: dict[str, Any], name: str) -> dict[str, Any]:
    """A variant's full spec: method, data set, training, and its methods' blocks."""
    if name not in config["variants"]:
        raise ConfigError(f"config key 'variants.{name}': no such variant (have: {', '.join(config['variants'])})")
    return resolve_methods(config, config["variants"][name], name)


def variant_models(config: dict[str, Any], name: str) -> list[str]:
    """The models that get variant ``name``."""
    return config["variants"][name].get("models", list(config["models"]))


def _check_chains(config: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
    """Every ``from`` names a variant that exists for the same models and that its method may start
    from, and no chain loops."""
    for name in specs:
        seen = [name]
        while "from" in specs[seen[-1]]:
            current, parent = seen[-1], specs[seen[-1]]["from"]
            where = f"config key 'variants.{current}.from'"
            if parent not in specs:
                raise ConfigError(f"{where}: no such variant '{parent}' (have: {', '.join(specs)})")
            if parent in seen:
                raise ConfigError(f"{where}: variants start from each other in a loop ({' -> '.join([*seen, parent])})")
            allowed = base_methods()[specs[current]["method"]].parent_methods
            if allowed is not None and specs[parent]["method"] not in allowed:
                raise ConfigError(f"{where}: a {specs[current]['method']} variant needs a {' or '.join(allowed)} "
                                  f"variant, '{parent}' is {specs[parent]['method']}")
            missing = set(variant_models(config, current)) - set(variant_models(config, parent))
            if missing:
                raise ConfigError(f"{where}: '{parent}' does not exist for model(s) {', '.join(sorted(missing))}")
            seen.append(parent)


def _check_benchmarks(config: dict[str, Any]) -> None:
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


def _check_figures(config: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
    for figure in ("tradeoff", "downstream"):
        for axis, bench in config["figures"].get(figure, {}).items():
            if bench not in config["benchmarks"]:
                raise ConfigError(f"config key 'figures.{figure}.{axis}': unknown benchmark '{bench}'")
    for name, ablation in config["figures"]["ablations"].items():
        unknown = [v for v in ablation["variants"] if v not in specs]
        if unknown:
            raise ConfigError(f"config key 'figures.ablations.{name}.variants': unknown variant(s) {', '.join(unknown)}")


def _check_claims(config: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
    for number, claim in enumerate(config["claims"]):
        where = f"config key 'claims.{number}"
        unknown = [v for v in claim["variants"] if v not in specs]
        if unknown:
            raise ConfigError(f"{where}.variants': unknown variant(s) {', '.join(unknown)}")
        if "benchmark" in claim and claim["benchmark"] not in config["benchmarks"]:
            raise ConfigError(f"{where}.benchmark': unknown benchmark '{claim['benchmark']}'")
        geometry = claim.get("geometry", {})
        ks = config.get("geometry", {}).get("ks", [])
        if geometry.get("statistic", "").startswith("overlap") and geometry.get("k") not in ks:
            raise ConfigError(f"{where}.geometry.k': an overlap needs k, one of geometry.ks ({', '.join(map(str, ks))})")
        untrained = [v for v in claim["variants"] if geometry and specs[v]["method"] == "none"]
        if untrained:
            raise ConfigError(f"{where}.variants': {', '.join(untrained)} update(s) no weights: no geometry")


def _check_epoch_evaluation(config: dict[str, Any], specs: dict[str, dict[str, Any]]) -> None:
    """``training.evaluate_checkpoints`` names benchmarks, and its variant trains whole epochs (one model each)."""
    for name, spec in specs.items():
        chosen = spec.get("training", {}).get("evaluate_checkpoints", [])
        where = f"config key 'variants.{name}.training.evaluate_checkpoints'"
        unknown = [b for b in chosen if b not in config["benchmarks"]]
        if unknown:
            raise ConfigError(f"{where}: unknown benchmark(s) {', '.join(unknown)} (have: {', '.join(config['benchmarks'])})")
        if chosen and not float(spec["training"]["num_train_epochs"]).is_integer():
            raise ConfigError(f"{where}: needs a whole number of epochs, not num_train_epochs "
                              f"{spec['training']['num_train_epochs']}")


def epochs_evaluated(spec: dict[str, Any]) -> list[int]:
    """The epochs whose models a variant evaluates (1..num_train_epochs), none without ``evaluate_checkpoints``."""
    training = spec.get("training", {})
    return list(range(1, int(training["num_train_epochs"]) + 1)) if training.get("evaluate_checkpoints") else []


def epochs_generated(spec: dict[str, Any]) -> list[int]:
    """The evaluated epochs that answer the benchmarks with their own model: all but the last, whose model
    is the variant's final model, whose answers the variant's own generation job already writes."""
    return epochs_evaluated(spec)[:-1]


def _check_tiny_models(config: dict[str, Any]) -> None:
    """A ``tiny_random`` model's template must exist and its heads must divide its width."""
    for name, model in config["models"].items():
        tiny = model.get("tiny_random")
        if tiny is None:
            continue
        key = f"config key 'models.{name}.tiny_random"
        if tiny["chat_template"] is not None and tiny["chat_template"] not in TEMPLATES:
            raise ConfigError(f"{key}.chat_template': no chat template '{tiny['chat_template']}' "
                              f"(have: {', '.join(TEMPLATES)})")
        if tiny["hidden_size"] % tiny["num_heads"]:
            raise ConfigError(f"{key}.num_heads': {tiny['num_heads']} heads do not divide hidden_size "
                              f"{tiny['hidden_size']}")
        if tiny["num_kv_heads"] is not None and tiny["num_heads"] % tiny["num_kv_heads"]:
            raise ConfigError(f"{key}.num_kv_heads': {tiny['num_kv_heads']} do not divide num_heads {tiny['num_heads']}")


def check_references(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Checks the schema cannot express (names that must refer to other entries).

    Returns every variant's resolved spec, by name.
    """
    specs = {name: resolve_variant(config, name) for name in config["variants"]}
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
    _check_benchmarks(config)
    _check_figures(config, specs)
    _check_claims(config, specs)
    _check_epoch_evaluation(config, specs)
    _check_tiny_models(config)
    if any(m["source"] == "toyworld" for m in config["models"].values()):
        toyworld_pretrain(config)
    return specs


def toyworld_pretrain(config: dict[str, Any]) -> dict[str, Any]:
    """The spec of the toy's reasoning pretraining: full fine-tuning with the toy's overrides."""
    training = resolve_training(config, config["toyworld"]["pretrain"], "toyworld.pretrain", TOYWORLD_PRETRAIN_EPOCHS)
    return {"method": "full", "training": training}


def with_local_sources(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every toy-world source (``toyworld: split``) of a data set or benchmark given its
    ``path`` under ``results_dir``."""
    resolved = dict(config)
    for section in ("datasets", "benchmarks"):
        resolved[section] = {name: {**spec, "path": local_source(config, spec)} if "toyworld" in spec else spec
                             for name, spec in config.get(section, {}).items()}
    return resolved


def resolve_config(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Variant]]:
    """(the config with local sources resolved, every variant resolved), in config order."""
    check_finite(config)
    config = with_local_sources(config)
    specs = check_references(config)
    variants = {name: Variant(name, spec, tuple(variant_models(config, name)), base_methods()[spec["method"]],
                              extension_of(spec))
                for name, spec in specs.items()}
    return config, variants

