#!/usr/bin/env bash
# GOTURN: full training on 8 devices of one node (seed: --epochs 20), 50 examples per device per step.
#   bash goturn/test/train_full_8p.sh --data_path=/data/goturn
NETWORK=GOTURN MODULE=goturn.train RANK_SIZE=8 MODE=acc BATCH_SIZE=50
TRAIN_ARGS=(--epochs 20)
DEMO_ARGS=(--epochs 1 --max_steps 5 --pretrained_model none --freeze_convs true --lr 3e-6 --val_batches 8 --workers 0)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
