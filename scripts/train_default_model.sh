#!/usr/bin/env bash
# Rebuild the default generator ganon/weights_data/ganon-synth-128.safetensors from nothing but
# packages on PyPI: synthetic DCGAN faces -> training pairs -> pix2pix (small-128, L1 weight 100) ->
# fine-tuning with L1 weight 30 and half the learning rate -> quality -> export.
# The shipped file was made with these commands on a 2-core CPU, each training stage in segments
# (the base: --max-time 118, then --resume --max-steps 11000; the fine-tuning: --max-steps 3000, then
# --resume --max-steps 5000). Its .json card records the steps, wall time, versions and quality figures.
#
#   scripts/train_default_model.sh [WORK_DIR] [BASE_STEPS] [TUNE_STEPS]   # then copy WORK_DIR/ganon-synth-128.* to ganon/weights_data/
set -euo pipefail
work=${1:-runs/default-model}
base_steps=${2:-11000}
steps=${3:-5000}
ganon=${GANON:-ganon}
python=${PYTHON:-python}

"$ganon" synth-faces 8000 --out "$work/synth" --seed 0 --size 128
"$ganon" preprocess "$work/synth" --out "$work/pairs" --resolution 128 --workers 2 --seed 0
"$ganon" train "$work/pairs" --run "$work/base" --preset small-128 --max-steps "$base_steps"
"$ganon" train "$work/pairs" --run "$work/train" --preset small-128 --init-from "$work/base" \
    --lambda-l1 30 --lr 1e-4 --max-steps "$steps"
"$ganon" export "$work/train" --out "$work/candidate.safetensors" --overwrite
"$ganon" models quality --weights "$work/candidate.safetensors" --out "$work/quality"
"$python" - "$work" "$base_steps" "$steps" <<'PY'
import json, sys
from pathlib import Path
work, base_steps, steps = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
quality = json.loads((work / "quality" / "metrics.json").read_text())
quality.pop("weights", None)  # described by the card itself
extra = {"quality": quality,
         "reproduce": [f"scripts/train_default_model.sh {work} {base_steps} {steps}",
                       "cp {0}/ganon-synth-128.safetensors {0}/ganon-synth-128.json ganon/weights_data/".format(work)]}
(work / "card-extra.json").write_text(json.dumps(extra, indent=2))
PY
"$ganon" export "$work/train" --out "$work/ganon-synth-128.safetensors" --card-extra "$work/card-extra.json" --overwrite
cp "$work/quality/side_by_side/"*.png "$work/" 2>/dev/null || true
echo "now: cp $work/ganon-synth-128.safetensors $work/ganon-synth-128.json ganon/weights_data/"
