"""One shard of `infer score` (rule score_shard): the argument list goes to infer
as is, without a shell, and infer's messages go to the rule's log."""

import shlex
import subprocess

sm = snakemake  # noqa: F821 (injected by Snakemake's script directive)
p = sm.params
argv = [
    str(p.infer), "score",
    "--model", str(p.model),
    "--input", sm.input.seqs,
    "--shard", p.shard,
    "--backend", str(p.backend),
    "--batch-size", str(p.batch_size),
    "--threads", str(sm.threads),
    *shlex.split(str(p.extra)),
    "--output", sm.output.scores,
]
with open(sm.log[0], "w") as log:
    log.write(shlex.join(argv) + "\n")
    log.flush()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stderr=log, check=True)
