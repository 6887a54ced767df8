#!/usr/bin/env python3
"""Draw one sequence's in-silico mutagenesis as an SVG: a logo of the reference bases,
each as tall as the mean loss when it is mutated (below the axis when mutating it
raises the prediction), over a heat map of every substitution's delta.

    infer ism --model dream-cnn --input seqs.fa -o ism.tsv
    python3 scripts/ism_logo.py ism.tsv --seq-id synthetic_1 -o logo.svg

Reads the TSV of `infer ism` (seq_id pos ref alt score delta; with several model
outputs, pick one with --output-name). Standard library only.
"""

import argparse
import csv
import sys

COLORS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839", "N": "#888888"}
BASES = "ACGT"


def read_ism(path, seq_id, output_name):
    delta_col = "delta" if output_name is None else f"{output_name}_delta"
    rows = {}
    first = None
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if delta_col not in row:
                sys.exit(f"{path}: no column {delta_col!r} (columns: {', '.join(row)})")
            first = first or row["seq_id"]
            if row["seq_id"] != (seq_id or first):
                continue
            pos = int(row["pos"])
            rows.setdefault(pos, {"ref": row["ref"], "delta": {}})["delta"][row["alt"]] = float(row[delta_col])
    if not rows:
        sys.exit(f"{path}: no rows for sequence {seq_id or first!r}")
    return seq_id or first, rows


def color(d, scale):
    """Blue (negative) - white - red (positive)."""
    t = max(-1.0, min(1.0, d / scale)) if scale > 0 else 0.0
    if t >= 0:
        r, g, b = 255, int(255 * (1 - t)), int(255 * (1 - t))
    else:
        r, g, b = int(255 * (1 + t)), int(255 * (1 + t)), 255
    return f"#{r:02x}{g:02x}{b:02x}"


def svg(seq_id, rows, width_per_base=9, logo_height=80, cell=9):
    positions = sorted(rows)
    n = len(positions)
    left, top = 40, 24
    importance = [-sum(rows[p]["delta"].values()) / len(rows[p]["delta"]) for p in positions]
    peak = max(max(abs(v) for v in importance), 1e-12)
    scale = max(max(abs(d) for p in positions for d in rows[p]["delta"].values()), 1e-12)
    axis_y = top + logo_height / 2
    heat_top = top + logo_height + 16
    w = left + n * width_per_base + 20
    h = heat_top + 4 * cell + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="14" font-size="11">{seq_id}: in-silico mutagenesis, positions {positions[0]}-{positions[-1]}</text>',
        f'<line x1="{left}" y1="{axis_y}" x2="{left + n * width_per_base}" y2="{axis_y}" stroke="#999" stroke-width="0.5"/>',
    ]
    for k, (p, v) in enumerate(zip(positions, importance)):
        base = rows[p]["ref"]
        height = abs(v) / peak * (logo_height / 2)
        if height < 0.2:
            continue
        x = left + k * width_per_base
        # A glyph of font-size 10 spans ~7.2 units of cap height; stretch it vertically.
        sy = height / 7.2
        y = axis_y if v > 0 else axis_y + height
        out.append(
            f'<text transform="translate({x:.2f},{y:.2f}) scale(1,{sy:.3f})" font-size="10" font-weight="bold" '
            f'textLength="{width_per_base}" lengthAdjust="spacingAndGlyphs" fill="{COLORS.get(base, "#888")}">{base}</text>'
        )
    for b, base in enumerate(BASES):
        y = heat_top + b * cell
        out.append(f'<text x="{left - 12}" y="{y + cell - 1.5}" font-size="9" fill="{COLORS[base]}">{base}</text>')
        for k, p in enumerate(positions):
            d = 0.0 if rows[p]["ref"] == base else rows[p]["delta"].get(base, 0.0)
            out.append(f'<rect x="{left + k * width_per_base}" y="{y}" width="{width_per_base}" height="{cell}" fill="{color(d, scale)}"/>')
    for k, p in enumerate(positions):
        if p % 10 == 0:
            x = left + k * width_per_base + width_per_base / 2
            out.append(f'<text x="{x}" y="{heat_top + 4 * cell + 11}" font-size="8" text-anchor="middle">{p}</text>')
    legend_y = heat_top + 4 * cell + 28
    out.append(
        f'<text x="{left}" y="{legend_y}" font-size="9">logo: mean loss when the base is mutated (max {peak:.3g}); '
        f'map: delta per substitution, blue -{scale:.3g} to red +{scale:.3g}</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tsv", help="output of `infer ism`")
    ap.add_argument("--seq-id", help="sequence to draw (default: the first)")
    ap.add_argument("--output-name", help="model output to draw when the model has several")
    ap.add_argument("-o", "--output", default="-", help="SVG file (default: stdout)")
    args = ap.parse_args()
    seq_id, rows = read_ism(args.tsv, args.seq_id, args.output_name)
    text = svg(seq_id, rows)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
