#!/usr/bin/env python3
"""A model card (card.json for `zoo publish`) from a `train fit` run directory and the
`infer eval --json` report of the model it published, so every number on a card is one
that was measured on that model.

    bench/card.py RUN_DIR EVAL_JSON --spec NAME@VERSION --description TEXT \
        [--command CMD] [--device TEXT] [--seconds S] [--note TEXT] > card.json

The training section comes from RUN_DIR/run.json (recipe, budget, seed, split) and
RUN_DIR/log.jsonl (the epoch whose weights were kept); the metrics from EVAL_JSON.
"""

import argparse
import json
import sys
from pathlib import Path

CHALLENGE = (
    "challenge formula: weights 1/0.3/0.3/0.3/0.3/0.5/1.25/0.3/0.4, sum 4.65; "
    "tract and ONNX Runtime agree to 1e-4 per sequence"
)
DEMO_FILE = "random-promoter-dream-challenge-2022 data/demo_train.txt (6,370 yeast random-promoter records, MIT)"
CITATION = (
    "Rafi, A.M. et al. A community effort to optimize sequence-based deep learning models of gene "
    "regulation. Nature Biotechnology (2024). Prix Fixe framework: de Boer lab, "
    "random-promoter-dream-challenge-2022."
)


def describe_recipe(r):
    """The run's recipe (run.json) in one line a reader can check against the team's code."""
    def kv(d):
        return ", ".join(f"{k} {v}" for k, v in d.items() if k != "kind")
    loss = r["loss"]["kind"] + (f" ({kv(r['loss'])})" if len(r["loss"]) > 1 else "")
    sched = r["schedule"]["kind"] + (f" ({kv(r['schedule'])})" if len(r["schedule"]) > 1 else "")
    parts = [f"{r['name']} recipe: {loss} loss", f"{sched} schedule", f"best validation {r['select']} kept"]
    if r.get("early_stopping"):
        e = r["early_stopping"]
        parts.append(f"early stopping on the validation {e['metric']} (patience {e['patience']})")
    t = r.get("target", {}).get("kind", "none")
    parts.append("targets as given" if t == "none" else f"target transform {json.dumps(r['target'], sort_keys=True)}")
    if r.get("strand_pairs"):
        parts.append("both strands per step")
    return "; ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("eval_json", type=Path)
    ap.add_argument("--spec", required=True, help="NAME@VERSION the card is for")
    ap.add_argument("--description", required=True)
    ap.add_argument("--command", help="the train fit command line")
    ap.add_argument("--device", help="where it trained, e.g. '2 CPU threads'")
    ap.add_argument("--seconds", type=float, help="training wall clock")
    ap.add_argument("--note", help="anything else a user must know about the run")
    a = ap.parse_args()

    run = json.loads((a.run_dir / "run.json").read_text())
    log = [json.loads(l) for l in (a.run_dir / "log.jsonl").read_text().splitlines() if l.strip()]
    report = json.loads(a.eval_json.read_text())
    cfg, data = run["config"], run["data"]
    recipe = cfg["recipe"]
    kept = [e for e in log if e.get("best")]
    if not kept:
        sys.exit(f"{a.run_dir}/log.jsonl marks no epoch as kept")
    # The weights model.safetensors holds: those of the last epoch that was best so far.
    best = kept[-1]

    how = f"infer eval --benchmark {report['benchmark']} --model {a.spec} ({CHALLENGE})"
    dataset = "DREAM 2022 public leaderboard, 9,045 test sequences"
    metrics = [
        {"name": f"{report['benchmark']} pearson_score", "value": round(report["pearson_score"], 6), "dataset": dataset, "how": how},
        {"name": f"{report['benchmark']} spearman_score", "value": round(report["spearman_score"], 6), "dataset": dataset, "how": how},
    ]
    for s in report["subsets"]:
        if s.get("pearson") is not None:
            metrics.append({
                "name": f"{report['benchmark']} {s['name']} pearson_r",
                "value": round(s["pearson"], 6),
                "dataset": f"public leaderboard subset '{s['name']}' ({s['n']} sequences)",
                "how": how,
            })

    train_rows = "each doubled by its reverse complement" if run["desc"]["preprocessing"].get("rc_average") else "as given"
    training = {
        "recipe": describe_recipe(recipe),
        "schedule": f"at most {cfg['epochs']} epochs of {'one pass' if cfg['batches_per_epoch'] == 0 else str(cfg['batches_per_epoch']) + ' steps'} "
        f"at batch {cfg['batch_size']}, lr {cfg['max_lr']}, weight decay {cfg['weight_decay']}; {len(log)} epochs ran",
        "kept_epoch": best["epoch"],
        "kept_epoch_valid": {k: round(v, 4) for k, v in best["valid"].items()},
        "seed": cfg["seed"],
    }
    for key, value in (("command", a.command), ("device", a.device), ("note", a.note)):
        if value:
            training[key] = value
    if a.seconds is not None:
        training["time_seconds"] = round(a.seconds)
    card = {
        "description": a.description,
        "training_data": {
            "file": DEMO_FILE,
            "split": f"seeded held-out validation: {data['valid_fraction']:.0%} of sequences (split seed {data['split_seed']}), {train_rows}",
        },
        "metrics": metrics,
        "license": "MIT",
        "citation": CITATION,
        "training": training,
    }
    json.dump(card, sys.stdout, indent=1, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
