#!/bin/sh
# Fills fuzz/corpus/<target>/ with seeds from the real fixtures and data (../shared) and
# from small files built here. Run from the repository root: fuzz/seed.sh
set -eu
S=${SHARED:-../shared}
C=fuzz/corpus
mkdir -p $C/pth $C/safetensors $C/onnx $C/input $C/zoo_index $C/model_json
python3 fuzz/make_pth_seeds.py $C/pth
cp $S/fixtures/checkpoints/lightning_small_state_dict.safetensors $C/safetensors/
for f in $S/fixtures/prixfixe/*_io.safetensors $S/fixtures/submissions/*/io.safetensors $S/fixtures/submissions/deepgxp/tta.safetensors; do
  cp "$f" "$C/safetensors/$(basename "$(dirname "$f")")_$(basename "$f")"
done
# Tiny ONNX models with this project's metadata (the real ones are 8-36 MB).
python3 fuzz/make_onnx_seeds.py $C/onnx weights/dream-cnn/0.1.0/model.json
cp weights/index.json $C/zoo_index/weights_index.json
for m in weights/*/*/model.json; do cp "$m" "$C/model_json/$(echo "$m" | cut -d/ -f2)_model.json"; done
python3 - "$C/model_json" weights/*/*/model.json <<'PY'
import json, sys
out = sys.argv[1]
for i, p in enumerate(sys.argv[2:]):
    pre = json.load(open(p)).get("preprocessing")
    if pre:
        json.dump(pre, open(f"{out}/preprocessing_{i}.json", "w"))
PY
# Sequence readers: the first byte selects options (fuzz/entries/input.rs), the rest is
# the head of each real file, plain and gzipped.
seed() { # name selector file
  { printf "\\$(printf %03o $2)"; head -c 6000 "$3"; } > $C/input/$1
  { printf "\\$(printf %03o $2)"; head -c 6000 "$3" | gzip -c; } > $C/input/$1.gz
}
seed fasta 1 examples/random_promoters.fa
seed auto_fasta 0 examples/random_promoters.fa
seed dream_tsv 3 $S/data/dream/demo_train.txt
seed dream_auto 0 $S/data/dream/public_leaderboard.tsv
seed human 0 $S/data/human/sample_train.txt
seed drosophila 0 $S/data/drosophila/sample_train.txt
seed human_table 20 $S/data/human/sample_train.txt
awk 'NR%2==0 {print "@r" NR; print; print "+"; gsub(/./, "I"); print}' examples/random_promoters.fa | head -40 > /tmp/fuzz-seed.fq
seed fastq 2 /tmp/fuzz-seed.fq
printf 'id,seq,value\nr1,ACGT,1.5\nr2,"GGCA",2\n' > /tmp/fuzz-seed.csv
seed table_csv 60 /tmp/fuzz-seed.csv
for d in $C/*; do echo "$d: $(ls $d | wc -l) seeds"; done
