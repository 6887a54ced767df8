"""One ensemble member (rule train_member): `train fit` with the member's seed."""

import shlex
import subprocess

sm = snakemake  # noqa: F821 (injected by Snakemake's script directive)
p = sm.params
argv = [
    str(p.train_bin), "fit",
    "--arch", str(p.arch),
    "--train", sm.input.data,
    "--out", sm.output.run,
    "--seed", str(sm.wildcards.seed),
    "--threads", str(sm.threads),
    *shlex.split(str(p.extra)),
]
with open(sm.log[0], "w") as log:
    log.write(shlex.join(argv) + "\n")
    log.flush()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True)
