#!/usr/bin/env bash
# Serve MODELS (TF-Serving layout MODELS/<name>/<version>/) with real TF-Serving, gRPC 8500 and
# REST 8501: the tensorflow_model_server binary if it is on PATH, else the tensorflow/serving Docker
# image. Neither exists on our CI machines; there use `nm-tf serve`.
#
# Addresses: the binary has no bind-address flag and listens on ALL interfaces; keep it behind a
# firewall, or use the Docker branch, which publishes the ports on 127.0.0.1 only.
# XLA: `nm-tf export` writes XLA-compiled sampling signatures by default; TF-Serving's CPU build
# runs them only with --xla_cpu_compilation_enabled=true (set below). Models exported with
# `nm-tf export --no-xla` do not need it.
#   usage: serving/run_tf_serving.sh MODELS [MODEL_NAME]
set -euo pipefail
models=$(cd "${1:?usage: $0 MODELS [MODEL_NAME]}" && pwd)
name=${2:-newman_moore}
config=$(mktemp)
trap 'rm -f "$config"' EXIT
sed "s#/models/newman_moore#${models}/${name}#; s#\"newman_moore\"#\"${name}\"#" \
    "$(dirname "$0")/models.config" > "$config"
flags=(--enable_model_warmup=true --xla_cpu_compilation_enabled=true --file_system_poll_wait_seconds=2)
if command -v tensorflow_model_server >/dev/null 2>&1; then
  echo "tensorflow_model_server: gRPC 0.0.0.0:8500, REST 0.0.0.0:8501 (all interfaces)" >&2
  tensorflow_model_server --port=8500 --rest_api_port=8501 --model_config_file="$config" "${flags[@]}"
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  sed -i "s#${models}#/models#" "$config"
  echo "tensorflow/serving in Docker: gRPC 127.0.0.1:8500, REST 127.0.0.1:8501" >&2
  docker run --rm -p 127.0.0.1:8500:8500 -p 127.0.0.1:8501:8501 \
       -v "${models}:/models" -v "${config}:/config/models.config" tensorflow/serving \
       --model_config_file=/config/models.config "${flags[@]}"
else
  echo "neither tensorflow_model_server nor a running Docker engine found; use: nm-tf serve --model-dir ${models}" >&2
  exit 1
fi
