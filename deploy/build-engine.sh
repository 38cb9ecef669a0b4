#!/usr/bin/env bash
# Build the TensorRT engine of a model on THIS station's GPU (engines are tied to
# the GPU model and the TensorRT version, so they are built on the target PC).
#
#   deploy/build-engine.sh /var/lib/cras-station/models/current [--max-batch 32]
#
# Writes MODEL_DIR/model_fp16.engine and its parity report
# (model_fp16.engine.parity.json); `model.backend: auto` in station.yaml picks
# the engine up from the model folder. A parity failure leaves
# model_fp16.engine.invalid and exits 1: the station then keeps using the next
# backend of the auto rule (PyTorch on CUDA), and the log says why.
set -euo pipefail

STATION=${STATION:-/opt/cras-station/venv/bin/station}
if [[ $# -lt 1 ]]; then
    echo "usage: $0 MODEL_DIR [--max-batch N] [--data AITEX_DIR]" >&2
    exit 2
fi
MODEL_DIR=$1
shift
if [[ ! -f "$MODEL_DIR/model.json" ]]; then
    echo "error: $MODEL_DIR is not a model folder (no model.json)" >&2
    echo "  what to do: pass the folder written by \`station train --out\`" >&2
    exit 2
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "error: no NVIDIA GPU is visible on this machine" >&2
    echo "  what to do: install the NVIDIA driver; engines must be built on the station's GPU" >&2
    exit 2
fi

echo "building the fp16 TensorRT engine of $MODEL_DIR on $(nvidia-smi -L | head -n 1)"
exec "$STATION" export --model "$MODEL_DIR" --format tensorrt --precision fp16 \
    --out "$MODEL_DIR/model_fp16.engine" "$@"
