#!/usr/bin/env python3
"""Writes a synthetic training file in the DREAM challenge format (sequence<TAB>value),
the size of the real one by default (6,739,258 records, about 850 MB):

- sequences: the real 17-nt 5' adapter, a random insert, the real 13-nt 3' adapter;
  inserts are 80 nt for most records and 77-83 nt for the rest, as in the real data
  (lengths vary there too);
- values: expression in [0, 17], about 58% of them integers ("12") and the rest
  fractions written with 15 significant digits ("15.1823836007871"), the mix of the
  real file (measured on shared/data/dream/demo_train.txt: 3,693 of 6,370 integers).

Seeded, standard library only.

  python3 bench/make-challenge-data.py OUT [--records N] [--seed S]
"""

import argparse
import random

LEFT = "TGCATTTTTTTCACATC"
RIGHT = "GGTTACGGCTGTT"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--records", type=int, default=6_739_258)
    ap.add_argument("--seed", type=int, default=2022)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    bases = bytes.maketrans(bytes(range(256)), b"ACGT" * 64)
    chunk = 100_000
    with open(args.out, "w") as out:
        left = args.records
        while left > 0:
            n = min(chunk, left)
            left -= n
            raw = rng.randbytes(83 * n).translate(bases).decode()
            lines = []
            for i in range(n):
                u = rng.random()
                length = 80 if u < 0.82 else rng.randint(77, 83)
                insert = raw[83 * i : 83 * i + length]
                if rng.random() < 0.58:
                    value = str(rng.randint(0, 17))
                else:
                    value = "%.15g" % rng.uniform(0.0, 17.0)
                lines.append(f"{LEFT}{insert}{RIGHT}\t{value}\n")
            out.write("".join(lines))


if __name__ == "__main__":
    main()
