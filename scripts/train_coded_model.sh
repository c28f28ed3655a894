#!/usr/bin/env bash
# The seeded (appearance-code) variant of the default model, issue 16: DCGAN faces whose latent z is
# recorded per pair, fine-tuned from the shipped un-coded weights. The defaults are the shipped
# ganon-synth-128-coded (85 minutes on 2 CPU cores); a GPU can afford more faces and steps. The same lines are in ganon.training.config.CODED_RECIPE and in the exported model card.
set -euo pipefail
N=${N:-10000}
STEPS=${STEPS:-2710}
ganon synth-faces "$N" --out runs/synth-faces --seed 0 --size 128
ganon preprocess runs/synth-faces --out runs/pairs128 --resolution 128 --workers "${WORKERS:-2}"
ganon train runs/pairs128 --run runs/coded128 --preset small-128-coded \
    --init-from ganon/weights_data/ganon-synth-128.safetensors --max-steps "$STEPS"
# the recipe is chosen on the held-out synthetic pairs, never on the sample photos reported below
python -m benchmarks.select_coded runs/pairs128 runs/coded128 --out runs/coded128/select.json
ganon export runs/coded128 --out runs/coded128/ganon-synth-128-coded.safetensors
ganon models quality --weights runs/coded128/ganon-synth-128-coded.safetensors --out runs/coded128/quality
ganon anonymize samples/photos --weights runs/coded128/ganon-synth-128-coded.safetensors \
    --out runs/coded128/seed1 --seed 1 --json runs/coded128/seed1.json
ganon anonymize samples/photos --weights runs/coded128/ganon-synth-128-coded.safetensors \
    --out runs/coded128/seed2 --seed 2 --json runs/coded128/seed2.json
