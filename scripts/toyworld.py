"""Generate the toy world's data splits and its untrained model (rule toyworld)."""

from pathlib import Path

from taxfree.core.io import atomic_path, redirect_output, write_jsonl
from taxfree.data.toyworld import ToyWorldSpec, generate, save_initial_model

spec = dict(snakemake.params.spec)
architecture, _ = spec.pop("architecture"), spec.pop("pretrain")
with redirect_output(snakemake.log[0]):
    splits = generate(ToyWorldSpec(**spec))
    for path in snakemake.output.data:
        write_jsonl(path, splits[Path(path).stem])
    with atomic_path(snakemake.output.init_model) as tmp:
        save_initial_model(tmp, splits, seed=spec["seed"], **architecture)
