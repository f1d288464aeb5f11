#!/usr/bin/env bash
# One call on a machine with a GPU: install, run the tests that touch compiled code, then the benchmarks, and
# write one JSON of figures (every command, its exit status, seconds and output) to $OUT/gpu_check.json.
#
#     OUT=/tmp/out bash benchmarks/gpu_check.sh            # from the repository root
#     STEPS="devices sampler" OUT=/tmp/out bash benchmarks/gpu_check.sh     # only these steps
#
# Nothing here needs a GPU to run (on a CPU it measures the CPU); no test depends on one. Each step has its own
# time limit so that one slow step cannot eat the whole budget; a failing step is recorded and the rest go on.
set -u
OUT="${OUT:-gpu_check_out}"
mkdir -p "$OUT"
LOG="$OUT/steps"
mkdir -p "$LOG"

step() {    # step NAME SECONDS COMMAND...
  local name="$1" limit="$2"
  shift 2
  if [ -n "${STEPS:-}" ] && [[ " $STEPS " != *" $name "* ]]; then
    return
  fi
  local t0=$EPOCHREALTIME
  timeout "$limit" "$@" > "$LOG/$name.out" 2>&1
  local rc=$?
  local seconds
  seconds=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$seconds" "$*" >> "$LOG/index.tsv"
  echo "[$name] rc=$rc, $seconds s"
}

: > "$LOG/index.tsv"
step install 600 python -m pip install -q -e ".[serving,test]"
step devices 120 python -c "import tensorflow as tf; print(tf.__version__, tf.config.list_physical_devices())"
# the tests that compile the sampler, the training steps, the flips and the exported signatures
step tests 900 python -m pytest -q -x -p no:cacheprovider -n 0 tests/test_rnn.py tests/test_triangle_cell.py \
  tests/test_flip_samples.py tests/test_sr.py tests/test_annealing.py tests/test_ensemble.py \
  tests/test_ensemble_run.py -m "not slow"
step sampler 600 python benchmarks/bench_sampler.py --sizes 16,40 --samples 1000 --variants xla,xla-plain --repeats 20
step anneal_vca 600 python benchmarks/bench_anneal.py --cases vca:16,vca:40 --minibatch 10 --repeats 20
step anneal_vqa 600 python benchmarks/bench_anneal.py --cases vqa:8,vqa:16:32,vqa:16 --minibatch 10 --repeats 5
# many seeds in one compiled step: on a GPU the figure that matters is K = 256 against K = 1
step ensemble_vca 600 python benchmarks/bench_ensemble.py --L 16 --ensembles 1,16,64,256 --minibatch 10 \
  --repeats 5 --json
step ensemble_vqa 600 python benchmarks/bench_ensemble.py --L 16 --mode vqa --flip-samples 16 --ensembles 1,8,64 \
  --minibatch 10 --repeats 3 --json
# the trainability study's Hessian-vector products (double backprop, XLA against plain)
step curvature 300 python benchmarks/bench_curvature.py --L 16 --samples 1000 --products 5 --json
step serving 600 python benchmarks/bench_serving.py --sizes 16 --num-samples 100,1000,10000 --repeats 10

python - "$OUT" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
steps = []
for line in (out / "steps" / "index.tsv").read_text().splitlines():
    name, rc, seconds, command = line.split("\t", 3)
    text = (out / "steps" / f"{name}.out").read_text(errors="replace")
    steps.append({"step": name, "rc": int(rc), "seconds": round(float(seconds), 1), "command": command,
                  "output_tail": text[-6000:]})
(out / "gpu_check.json").write_text(json.dumps({"steps": steps}, indent=1) + "\n")
print(f"wrote {out / 'gpu_check.json'}")
EOF
