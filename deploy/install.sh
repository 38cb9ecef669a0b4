#!/usr/bin/env bash
# Install the inspection station on its target PC (Ubuntu 22.04/24.04, NVIDIA GPU,
# a GenICam camera with its vendor's GenTL producer). Run as root from a checkout:
#
#   sudo deploy/install.sh [--model MODEL_DIR] [--no-gpu] [--start]
#
# What it does (each step is safe to repeat):
#   1. a system user `cras-station`, folders /opt/cras-station, /etc/cras-station,
#      /var/lib/cras-station;
#   2. a virtual environment with the station and its `gpu` (TensorRT, pycuda) and
#      `camera` (harvesters, genicam) extras, from this checkout;
#   3. /etc/cras-station/station.yaml from deploy/station.example.yaml (never
#      overwritten; edit it: source.camera, geometry.mm_per_px, model.path, store);
#   4. the model (--model) copied to /var/lib/cras-station/models/current and its
#      TensorRT engine built on this GPU (deploy/build-engine.sh);
#   5. the defect database created or migrated (`station db upgrade`);
#   6. the systemd unit installed and enabled (--start also starts it).
set -euo pipefail

PREFIX=/opt/cras-station
CONFIG_DIR=/etc/cras-station
STATE_DIR=/var/lib/cras-station
SERVICE_USER=cras-station
PYTHON=${PYTHON:-python3.11}
REPO=$(cd "$(dirname "$0")/.." && pwd)
MODEL=""
EXTRAS="gpu,camera"
START=0

while [[ $# -gt 0 ]]; do
    case $1 in
        --model) MODEL=$2; shift 2 ;;
        --no-gpu) EXTRAS="camera"; shift ;;
        --start) START=1; shift ;;
        *) echo "unknown option $1 (use --model DIR, --no-gpu, --start)" >&2; exit 2 ;;
    esac
done
if [[ $EUID -ne 0 ]]; then
    echo "error: run as root (sudo $0 ...)" >&2
    exit 2
fi
if ! command -v "$PYTHON" >/dev/null; then
    echo "error: $PYTHON not found; install Python 3.11 (apt install python3.11 python3.11-venv)" >&2
    exit 2
fi

echo "== 1. user and folders"
id -u "$SERVICE_USER" >/dev/null 2>&1 || useradd --system --home "$STATE_DIR" \
    --shell /usr/sbin/nologin "$SERVICE_USER"
# Camera access: GigE needs nothing; USB3 Vision cameras need the vendor's udev
# rules, which usually grant the `video` or `plugdev` group.
for group in video plugdev; do
    getent group "$group" >/dev/null && usermod -aG "$group" "$SERVICE_USER"
done
install -d -m 755 "$PREFIX" "$CONFIG_DIR"
install -d -m 750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR" "$STATE_DIR/models"

echo "== 2. virtual environment with the station [$EXTRAS]"
rm -rf "$PREFIX/src"
cp -a "$REPO" "$PREFIX/src"
rm -rf "$PREFIX/src/.venv" "$PREFIX/src/.git"
[[ -x $PREFIX/venv/bin/python ]] || "$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --upgrade pip
"$PREFIX/venv/bin/pip" install "$PREFIX/src[$EXTRAS]"
STATION=$PREFIX/venv/bin/station

echo "== 3. configuration"
if [[ ! -f $CONFIG_DIR/station.yaml ]]; then
    install -m 640 -g "$SERVICE_USER" "$REPO/deploy/station.example.yaml" "$CONFIG_DIR/station.yaml"
    echo "   wrote $CONFIG_DIR/station.yaml: EDIT IT (camera, geometry, model, store) before starting"
else
    echo "   keeping the existing $CONFIG_DIR/station.yaml"
fi

echo "== 4. model and TensorRT engine"
if [[ -n $MODEL ]]; then
    rm -rf "$STATE_DIR/models/current.new"
    cp -a "$MODEL" "$STATE_DIR/models/current.new"
    rm -rf "$STATE_DIR/models/current"
    mv "$STATE_DIR/models/current.new" "$STATE_DIR/models/current"
    chown -R "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR/models"
    if [[ $EXTRAS == *gpu* ]]; then
        sudo -u "$SERVICE_USER" STATION="$STATION" "$REPO/deploy/build-engine.sh" \
            "$STATE_DIR/models/current" || echo "   engine build failed: the station will run \
without TensorRT (see the message above)"
    fi
else
    echo "   no --model given: put one at $STATE_DIR/models/current and run deploy/build-engine.sh"
fi

echo "== 5. defect database"
(cd "$STATE_DIR" && sudo -u "$SERVICE_USER" "$STATION" db upgrade --config "$CONFIG_DIR/station.yaml") \
    || echo "   database not ready yet: fix store.url in $CONFIG_DIR/station.yaml, then run \
'cd $STATE_DIR && sudo -u $SERVICE_USER $STATION db upgrade --config $CONFIG_DIR/station.yaml'"

echo "== 6. systemd service"
install -m 644 "$REPO/deploy/cras-station.service" /etc/systemd/system/cras-station.service
systemctl daemon-reload
systemctl enable cras-station
if [[ $START -eq 1 ]]; then
    systemctl restart cras-station
    echo "   started: journalctl -u cras-station -f"
else
    echo "   enabled; start it with: sudo systemctl start cras-station"
fi
