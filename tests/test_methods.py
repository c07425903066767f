"""The method registry: a new method is one module plus its schema block, and combinations are checked."""

import copy
import sys

import pytest
from test_config import default_config

from taxfree.config import schema
from taxfree.config.resolve import resolve_variant
from taxfree.core.errors import ConfigError
from taxfree.training import methods

# The whole of an example method: NEFTune (noisy embeddings during SFT, Jain et al. 2023), which TRL
# already implements, so the method only declares its block and the trainer argument it sets.
EXAMPLE_METHOD = '''
"""Extension `neftune`: uniform noise on the input embeddings during SFT (Jain et al., 2023)."""

from taxfree.training.methods.base import Extension


class NEFTune(Extension):
    name = "neftune"
    description = "NEFTune"
    combines_with = ("full", "lora")

    def arguments(self, spec):
        return {"neftune_noise_alpha": spec["neftune"]["noise_alpha"]}


METHODS = (NEFTune(),)
'''
EXAMPLE_SCHEMA = {"type": "object", "additionalProperties": False,
                  "properties": {"noise_alpha": {"type": "number", "exclusiveMinimum": 0, "default": 5.0}}}


@pytest.fixture
def with_example_method(tmp_path, monkeypatch):
    (tmp_path / "example_neftune.py").write_text(EXAMPLE_METHOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(methods, "MODULES", [*methods.MODULES, "example_neftune"])
    loaded = copy.deepcopy(schema.load_schema())
    loaded["$defs"]["neftune"] = EXAMPLE_SCHEMA
    monkeypatch.setattr(schema, "load_schema", lambda: loaded)
    methods._registry.cache_clear()
    yield
    methods._registry.cache_clear()
    sys.modules.pop("example_neftune", None)


def test_a_new_method_is_one_module_and_its_schema_block(with_example_method):
    from taxfree.training.methods.sft import sft_arguments

    config = default_config()
    config["variants"]["lora_neftune"] = {"method": "lora", "dataset": "toy_refusal", "neftune": {}}
    spec = resolve_variant(config, "lora_neftune")
    assert spec["neftune"] == {"noise_alpha": 5.0}
    assert methods.modules_of(spec) == ["taxfree.training.methods.sft", "example_neftune"]
    extension = methods.extension_of(spec)
    args = sft_arguments(spec["training"], "out", **extension.arguments(spec))
    assert args.neftune_noise_alpha == 5.0
    config["variants"]["bad"] = {"method": "lora", "dataset": "toy_refusal", "neftune": {"noise_alpha": 0}}
    with pytest.raises(ConfigError, match=r"'variants\.bad\.neftune\.noise_alpha'"):
        resolve_variant(config, "bad")
    config["variants"]["dpo_neftune"] = {**config["variants"]["saro"], "neftune": {}}
    with pytest.raises(ConfigError, match=r"'variants\.dpo_neftune\.neftune': NEFTune needs method full or lora"):
        resolve_variant(config, "dpo_neftune")


@pytest.mark.parametrize("blocks", [
    {"regularizer": {}, "sap": {"pairs": "p.jsonl", "layers": [0]}},
    {"ssah": {"safety_data": "toy_refusal", "utility_data": "toy_refusal"}, "sap": {"pairs": "p.jsonl", "layers": [0]}},
])
def test_two_trainer_extensions_are_rejected_at_config_time(blocks):
    config = default_config()
    config["variants"]["x"] = {"method": "lora", "dataset": "toy_refusal", **blocks}
    with pytest.raises(ConfigError, match=r"'variants\.x\.\w+': a variant takes at most one of"):
        resolve_variant(config, "x")


def test_every_registered_method_declares_what_the_workflow_asks():
    for name, method in methods.base_methods().items():
        assert method.name == name and method.data in ("sft", "pairs", None)
        assert isinstance(method.trains, bool) and method.description
    for name, extension in methods.extensions().items():
        assert extension.name == name and set(extension.combines_with) <= set(methods.base_methods())
        assert name in schema.load_schema()["$defs"]["variant"]["properties"]
