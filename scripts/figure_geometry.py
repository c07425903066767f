"""Stable rank and subspace overlap per layer, one line per method family (rule figure_geometry)."""

import pandas as pd

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.figures import overlap_by_layer, stable_rank_by_layer

with redirect_output(snakemake.log[0]):
    # A `seed` column, where the geometry tables have one, gives the families' bands across seeds.
    table = pd.concat([pd.read_parquet(path) for path in snakemake.input], ignore_index=True)
    table["family"] = table["variant"].map(snakemake.params.families)
    for figure, plot in (("stable_rank", stable_rank_by_layer), ("overlap", overlap_by_layer)):
        with atomic_path(snakemake.output[f"{figure}_png"]) as png, atomic_path(snakemake.output[f"{figure}_pdf"]) as pdf:
            plot(table, [png, pdf])
