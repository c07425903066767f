"""Collect every score file into the results table (rule aggregate)."""

from taxfree.core.io import atomic_path, redirect_output, write_json
from taxfree.report.aggregate import provenance, summarise, to_markdown, to_metrics, write_table

with redirect_output(snakemake.log[0]):
    summary = summarise(snakemake.params.entries, snakemake.params.benchmarks, snakemake.params.specs)
    write_table(summary, snakemake.output.csv, snakemake.output.parquet)
    with atomic_path(snakemake.output.markdown) as tmp:
        tmp.write_text(to_markdown(summary))
    write_json(snakemake.output.metrics, to_metrics(summary))
    write_json(snakemake.output.provenance, provenance(snakemake.params.specs, snakemake.params.model_dirs))
