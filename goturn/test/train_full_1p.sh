#!/usr/bin/env bash
# GOTURN: full training on one device (seed: --epochs 20).
#   bash goturn/test/train_full_1p.sh --data_path=/data/goturn   # real data (ALOV/ + ILSVRC2014_Det/)
#   bash goturn/test/train_full_1p.sh                            # synthetic demo data, a few minutes on a CPU
NETWORK=GOTURN MODULE=goturn.train RANK_SIZE=1 MODE=acc BATCH_SIZE=50
TRAIN_ARGS=(--epochs 20)
# Demo: no CaffeNet weights ship with the package, so the towers stay frozen at
# their random init and only the regression head trains, at 3x the base lr
# decayed x0.1 after 100 steps; validation every 50 steps shows the loss falling.
DEMO_ARGS=(--epochs 3 --max_steps 200 --pretrained_model none --freeze_convs true --lr 3e-6 --lr_step 100
           --val_batches 4 --val_every 50)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
