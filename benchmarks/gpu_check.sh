#!/usr/bin/env bash
# One call on a machine with a GPU: check that TensorFlow sees it, then the benchmarks in order of what they tell,
# then the tests that touch compiled code, and write one JSON of figures (every command, its exit status, seconds
# and output) to $OUT/gpu_check.json.
#
#     OUT=/tmp/out bash benchmarks/gpu_check.sh                      # from the repository root
#     BUDGET=300 STEPS="devices ensemble_vca" OUT=/tmp/out bash benchmarks/gpu_check.sh   # only these, in 300 s
#
# BUDGET (seconds, default 540) bounds the whole script: a device command may run 10 minutes at most and a
# session has 15 minutes of device time, so each step's own limit is cut to what is left of the budget, and a
# step that would get less than 20 s is recorded as skipped. The order puts first the figure that matters on a
# GPU (many seeds in one compiled step: K = 256 against K = 1), the tests last.
#
# The package is used from the checkout (PYTHONPATH), not installed: a lent machine reaches no package index.
# Without TensorFlow there (the lent CUDA image holds PyTorch and JAX, not TensorFlow; benchmarks/README.md) the
# first step fails and the script stops, saying so in the JSON. Nothing here needs a GPU to run (on a CPU it
# measures the CPU); no test depends on one. A failing step is recorded and the rest go on.
set -u
OUT="${OUT:-gpu_check_out}"
BUDGET="${BUDGET:-540}"
PY="${PYTHON:-python}"
mkdir -p "$OUT/steps"
LOG="$OUT/steps"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
START=$EPOCHREALTIME

step() {    # step NAME SECONDS COMMAND...
  local name="$1" limit="$2"
  shift 2
  if [ -n "${STEPS:-}" ] && [[ " $STEPS " != *" $name "* ]]; then
    return 0
  fi
  local left
  left=$(awk -v s="$START" -v n="$EPOCHREALTIME" -v b="$BUDGET" 'BEGIN { printf "%d", b - (n - s) }')
  if [ "$left" -lt 20 ]; then
    printf '%s\t%s\t%s\t%s\n' "$name" "skipped" "0" "$* (budget spent)" >> "$LOG/index.tsv"
    echo "[$name] skipped: ${left} s of the budget left"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$EPOCHREALTIME
  timeout "$limit" "$@" > "$LOG/$name.out" 2>&1
  local rc=$?
  local seconds
  seconds=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$seconds" "$*" >> "$LOG/index.tsv"
  echo "[$name] rc=$rc, $seconds s (limit $limit s)"
  return $rc
}

: > "$LOG/index.tsv"
if step devices 120 "$PY" -c "import tensorflow as tf; print(tf.__version__, tf.config.list_physical_devices())"; then
  # many seeds in one compiled step: on a GPU the figure that matters is K = 256 against K = 1
  step ensemble_vca 240 "$PY" benchmarks/bench_ensemble.py --L 16 --ensembles 1,16,64,256 --minibatch 10 \
    --repeats 5 --json
  step anneal_vca 120 "$PY" benchmarks/bench_anneal.py --cases vca:16,vca:40 --minibatch 10 --repeats 20
  step sampler 90 "$PY" benchmarks/bench_sampler.py --sizes 16,40 --samples 1000 --variants xla,xla-plain --repeats 20
  step ensemble_vqa 150 "$PY" benchmarks/bench_ensemble.py --L 16 --mode vqa --flip-samples 16 --ensembles 1,8,64 \
    --minibatch 10 --repeats 3 --json
  step anneal_vqa 120 "$PY" benchmarks/bench_anneal.py --cases vqa:8,vqa:16:32,vqa:16 --minibatch 10 --repeats 5
  # the trainability study's SR runs as ensembles: each member's own minSR solve, batched
  step ensemble_sr 120 "$PY" benchmarks/bench_ensemble.py --L 16 --sr-shift 0.01 --ensembles 1,16,64 --repeats 5 \
    --json
  # the trainability study's Hessian-vector products (double backprop, XLA against plain)
  step curvature 120 "$PY" benchmarks/bench_curvature.py --L 16 --samples 1000 --products 5 --json
  step serving 120 "$PY" benchmarks/bench_serving.py --sizes 16 --num-samples 100,1000,10000 --repeats 10
  # the tests that compile the sampler, the training steps, the flips and the ensembles, on the device
  step tests 600 "$PY" -m pytest -q -x -p no:cacheprovider -n 0 tests/test_rnn.py tests/test_triangle_cell.py \
    tests/test_flip_samples.py tests/test_sr.py tests/test_annealing.py tests/test_ensemble.py \
    tests/test_ensemble_run.py -m "not slow"
else
  echo "TensorFlow does not import here (steps/devices.out): nothing else can run"
fi

"$PY" - "$OUT" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
steps = []
for line in (out / "steps" / "index.tsv").read_text().splitlines():
    name, rc, seconds, command = line.split("\t", 3)
    path = out / "steps" / f"{name}.out"
    text = path.read_text(errors="replace") if path.exists() else ""
    steps.append({"step": name, "rc": int(rc) if rc.lstrip("-").isdigit() else rc, "seconds": round(float(seconds), 1),
                  "command": command, "output_tail": text[-6000:]})
(out / "gpu_check.json").write_text(json.dumps({"steps": steps}, indent=1) + "\n")
print(f"wrote {out / 'gpu_check.json'}")
EOF
