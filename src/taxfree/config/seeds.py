"""Run seeds: what one seed's run of the grid sees of the config."""

from __future__ import annotations

from typing import Any

# Config resolution knows paths before it knows the run seed: a resolved path holds this placeholder.
SEED = "{seed}"


def at_seed(value: Any, seed: int) -> Any:
    """``value`` (a spec, a block, a path or a list of them) as run seed ``seed`` sees it: every ``seed``
    setting shifted by the run seed, and the seed filled into every path resolved before it was known."""
    if isinstance(value, dict):
        return {key: inner + seed if key == "seed" and type(inner) is int else at_seed(inner, seed)
                for key, inner in value.items()}
    if isinstance(value, list):
        return [at_seed(inner, seed) for inner in value]
    if isinstance(value, str):
        return value.replace(SEED, str(seed))
    return value
