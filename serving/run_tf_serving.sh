#!/usr/bin/env bash
# Serve MODELS (TF-Serving layout MODELS/<name>/<version>/) with real TF-Serving on 127.0.0.1,
# gRPC 8500 and REST 8501: the tensorflow_model_server binary if it is on PATH, else the
# tensorflow/serving Docker image. Neither exists on our CI machines; there use `nm-tf serve`.
#   usage: serving/run_tf_serving.sh MODELS [MODEL_NAME]
set -euo pipefail
models=$(cd "${1:?usage: $0 MODELS [MODEL_NAME]}" && pwd)
name=${2:-newman_moore}
config=$(mktemp)
sed "s#/models/newman_moore#${models}/${name}#; s#\"newman_moore\"#\"${name}\"#" \
    "$(dirname "$0")/models.config" > "$config"
warmup="--enable_model_warmup=true"
if command -v tensorflow_model_server >/dev/null 2>&1; then
  exec tensorflow_model_server --port=8500 --rest_api_port=8501 --model_config_file="$config" \
       --file_system_poll_wait_seconds=2 $warmup
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  sed -i "s#${models}#/models#" "$config"
  exec docker run --rm -p 127.0.0.1:8500:8500 -p 127.0.0.1:8501:8501 \
       -v "${models}:/models" -v "${config}:/config/models.config" tensorflow/serving \
       --model_config_file=/config/models.config --file_system_poll_wait_seconds=2 $warmup
else
  echo "neither tensorflow_model_server nor a running Docker engine found; use: nm-tf serve --model-dir ${models}" >&2
  exit 1
fi
