"""What a method declares. The registry (this package's ``__init__``) lists every one.

A *base method* is a variant's ``method:``: how its weights come to be. An *extension* is a
block of the same name in a variant (``regularizer:``, ``sap:``, ``ssah:``) that changes how
its base method trains, by supplying the trainer class. Config resolution, training and the
workflow's rules ask these objects, never ``if method == ...``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from taxfree.config.schema import resolve_block
from taxfree.core.errors import ConfigError


class Method:
    """A base method: resolves a variant's settings and, if it trains, builds its trainer."""

    name: ClassVar[str]
    description: ClassVar[str]
    # `sft`: prompt/completion rows; `pairs`: chosen/rejected pairs built from candidates; None: no training data.
    data: ClassVar[str | None] = "sft"
    trains: ClassVar[bool] = True  # False: nothing to train (`none`, `merge`), so no align job
    default_epochs: ClassVar[int] = 1
    blocks: ClassVar[tuple[str, ...]] = ()  # the variant's settings blocks this method reads (besides extensions)
    parent_methods: ClassVar[tuple[str, ...] | None] = None  # what a `from` variant may be; None: anything

    def resolve(self, config: dict[str, Any], variant: dict[str, Any], name: str) -> dict[str, Any]:
        """The variant's resolved spec (extensions excluded); raises ConfigError naming the key."""
        raise NotImplementedError

    def weights(self, spec: dict[str, Any]) -> str:
        """`full` or `lora`: what training updates, which picks the multi-GPU launch."""
        raise NotImplementedError

    def build_trainer(self, base: str, data: str, spec: dict[str, Any], output_dir: str,
                      load: dict[str, Any]) -> Any:
        """The TRL trainer that trains this variant, ready for ``train()``."""
        raise NotImplementedError


class Extension:
    """A block that changes how the base methods it combines with train: their trainer arguments, or
    their trainer class (at most one extension per variant does that)."""

    name: ClassVar[str]
    description: ClassVar[str]
    combines_with: ClassVar[tuple[str, ...]]

    def check_base(self, spec: dict[str, Any], name: str) -> None:
        if spec["method"] not in self.combines_with:
            raise ConfigError(f"config key 'variants.{name}.{self.name}': {self.description} needs method "
                              f"{' or '.join(self.combines_with)}, not {spec['method']}")

    def resolve(self, config: dict[str, Any], block: dict[str, Any], spec: dict[str, Any],
                name: str) -> dict[str, Any]:
        """The resolved block: the schema definition named like the extension, defaults filled and checked.
        ``spec`` is the base method's resolved spec; extensions that derive more extend this."""
        return resolve_block(block, self.name, f"variants.{name}.{self.name}")

    def inputs(self, spec: dict[str, Any]) -> list[str]:
        """Files training reads besides its data set (calibration data, safety pairs)."""
        return []

    def arguments(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Trainer arguments (TRL config fields) the extension sets."""
        return {}

    def trainer(self, spec: dict[str, Any], model: Any, tokenizer: Any) -> tuple[type, dict[str, Any]] | None:
        """The SFTTrainer subclass and its extra keyword arguments; None keeps TRL's SFTTrainer."""
        return None
