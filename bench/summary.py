"""Helpers the bench scripts' tables share."""

import statistics


def mean_sd(xs):
    """'mean ± sd' of the runs that have a value; a run without one (constant
    predictions have no correlation: NaN) is counted, not averaged."""
    ok = [x for x in xs if x == x]
    lost = f" ({len(xs) - len(ok)} without)" if len(ok) < len(xs) else ""
    if not ok:
        return "n/a" + lost
    if len(ok) == 1:
        return f"{ok[0]:.4f}" + lost
    return f"{statistics.mean(ok):.4f} ± {statistics.stdev(ok):.4f}" + lost
