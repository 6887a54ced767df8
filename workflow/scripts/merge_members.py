"""The ensemble (rule merge_members): `infer ensemble` over the trained members."""

import os
import shlex
import subprocess

sm = snakemake  # noqa: F821 (injected by Snakemake's script directive)
argv = [str(sm.params.infer), "ensemble", "--out", os.path.dirname(sm.output.model)]
for member in sm.input.members:
    argv += ["--member", member]
with open(sm.log[0], "w") as log:
    log.write(shlex.join(argv) + "\n")
    log.flush()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True)
