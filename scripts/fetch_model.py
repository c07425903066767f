"""Save a hub model (or local directory) as the starting model of the pipeline (rule fetch_model)."""

from taxfree.config.paths import marked_model
from taxfree.core.hub import hub_asset
from taxfree.core.io import atomic_path, mark_complete, redirect_output
from taxfree.core.lifetime import die_with_parent
from taxfree.core.models import save_base_model
from taxfree.core.provenance import spec_hash

die_with_parent()
with redirect_output(snakemake.log[0]):
    spec, out = snakemake.params.spec, marked_model(snakemake.output[0])
    with hub_asset(f"models.{snakemake.wildcards.model}.id", "model", spec["id"]), atomic_path(out) as tmp:
        save_base_model(spec["id"], tmp, revision=spec["revision"], load=snakemake.params.load)
    mark_complete(out, spec_hash(spec))
