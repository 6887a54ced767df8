"""Concatenates the shard outputs in the order Snakemake lists them (shard 1 first)."""

import shutil

sm = snakemake  # noqa: F821 (injected by Snakemake's script directive)
with open(sm.output.scores, "wb") as out:
    for path in sm.input.shards:
        with open(path, "rb") as shard:
            shutil.copyfileobj(shard, out)
with open(sm.log[0], "w") as log:
    log.write(f"gathered {len(sm.input.shards)} shards into {sm.output.scores}\n")
