"""Save a hub model (or local directory) as the starting model of the pipeline (rule fetch_model)."""

from taxfree.core.hub import hub_asset
from taxfree.core.io import atomic_path, redirect_output
from taxfree.core.models import save_base_model

with redirect_output(snakemake.log[0]):
    spec = snakemake.params.spec
    with hub_asset(f"models.{snakemake.wildcards.model}.id", "model", spec["id"]), \
            atomic_path(snakemake.output[0]) as tmp:
        save_base_model(spec["id"], tmp, revision=spec["revision"], load=snakemake.params.load)
