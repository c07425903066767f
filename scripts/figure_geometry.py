"""Stable rank and subspace overlap per layer, by variant (rule figure_geometry)."""

import pandas as pd

from taxfree.figures import overlap_by_layer, stable_rank_by_layer
from taxfree.io import atomic_path, redirect_output

with redirect_output(snakemake.log[0]):
    table = pd.concat([pd.read_parquet(path) for path in snakemake.input], ignore_index=True)
    table["kind"] = table["variant"].map(snakemake.params.kinds)
    table = table[table["kind"] != "merge"]
    with atomic_path(snakemake.output.stable_rank) as tmp:
        stable_rank_by_layer(table, tmp)
    with atomic_path(snakemake.output.overlap) as tmp:
        overlap_by_layer(table, tmp)
