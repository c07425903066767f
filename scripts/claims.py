"""Test the config's claims on the results and write the markdown summary (rule claims)."""

import pandas as pd

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.aggregate import to_markdown
from taxfree.report.claims import evaluate_claims
from taxfree.report.claims import to_markdown as claims_markdown

with redirect_output(snakemake.log[0]):
    summary = pd.read_csv(snakemake.input.summary)
    summary.attrs["source"] = snakemake.input.summary  # named in errors
    geometry = pd.concat([pd.read_parquet(path) for path in snakemake.input.geometry] or [pd.DataFrame()],
                         ignore_index=True)
    claims = evaluate_claims(snakemake.params.claims, summary, geometry)
    with atomic_path(snakemake.output.csv) as tmp:
        claims.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(snakemake.output.markdown) as tmp:
        tmp.write_text(to_markdown(summary) + claims_markdown(claims))
