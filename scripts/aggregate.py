"""Collect every score file into the results tables (rule aggregate)."""

from taxfree.core.io import atomic_path, redirect_output, write_json
from taxfree.report.aggregate import provenance, summarise, to_metrics, write_table
from taxfree.report.seeds import across_seeds

with redirect_output(snakemake.log[0]):
    summary = summarise(snakemake.params.entries, snakemake.params.benchmarks, snakemake.params.specs)
    write_table(summary, snakemake.output.csv, snakemake.output.parquet)
    spread = across_seeds(summary)
    with atomic_path(snakemake.output.seeds) as tmp:
        spread.to_csv(tmp, index=False, float_format="%.6g")
    write_json(snakemake.output.metrics, to_metrics(spread))
    write_json(snakemake.output.provenance, provenance(snakemake.params.specs, snakemake.params.model_dirs))
