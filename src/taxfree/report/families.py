"""Method families and which variants each figure is about, from the variants' resolved specs.

Light enough for the workflow to import at parse time: the rules pass each figure its variants and their
families, and ``taxfree.report.figures.COLORS`` gives each family one colour in every figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taxfree.training.methods import extension_of, method_of

Specs = Mapping[str, Mapping[str, Any]]


def family(spec: Mapping[str, Any]) -> str:
    """The variant's base method, with its extension block if it has one: ``lora+regularizer``, ``full+ssah``."""
    extension = extension_of(dict(spec))
    return spec["method"] if extension is None else f"{spec['method']}+{extension.name}"


def downstream_starts(specs: Specs) -> dict[str, str]:
    """Each downstream variant and the variant it starts from: supervised fine-tuning (on task data) `from`
    another variant. Preference optimisation from a warmed-up variant (SaRO's DPO stage) continues that
    variant's alignment instead, so it is not downstream."""
    starts = {}
    for name, spec in specs.items():
        method = method_of(dict(spec))
        if spec.get("from") is not None and method.trains and method.data == "sft":
            starts[name] = spec["from"]
    return starts


def tradeoff_variants(specs: Specs) -> list[str]:
    """Variants about aligning the starting model: all but downstream variants and what is made from them."""
    downstream = downstream_starts(specs)

    def after_downstream(name: str | None) -> bool:
        return name is not None and (name in downstream or after_downstream(specs[name].get("from")))

    return [name for name in specs if not after_downstream(name)]


def geometry_variants(specs: Specs) -> list[str]:
    """Variants whose weight update is one of the starting model itself (trained, no `from`): every line of the
    geometry figures then measures overlap with the same W0, as in the LoRA-safety paper."""
    return [name for name, spec in specs.items() if method_of(dict(spec)).trains and spec.get("from") is None]
