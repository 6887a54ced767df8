# Sourced by bench/seeds.sh and bench/teams.sh: what their runs share.

# Scores the run directory $1 on $BENCHMARK into $1/eval.json (stderr appended to $1.log),
# with `train eval` on $DEVICE when EVAL=train, else `infer eval` on its model.onnx.
# Further arguments go to the eval command; RUN_PREFIX (an array, e.g. nice) goes before it.
eval_run() {
    local run=$1
    shift
    if [[ $EVAL == train ]]; then
        "${RUN_PREFIX[@]}" "$BIN/train" eval --benchmark "$BENCHMARK" --model "$run" --device "$DEVICE" \
            --threads "$THREADS" --json "$run/eval.json" "$@" > /dev/null 2>> "$run.log"
    else
        "${RUN_PREFIX[@]}" "$BIN/infer" eval --benchmark "$BENCHMARK" --model "$run/model.onnx" \
            --threads "$THREADS" --json "$run/eval.json" "$@" > /dev/null 2>> "$run.log"
    fi
}
