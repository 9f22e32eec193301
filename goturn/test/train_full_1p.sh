#!/usr/bin/env bash
# GOTURN: full training on one device (seed: --epochs 20).
#   bash goturn/test/train_full_1p.sh --data_path=/data/goturn   # real data (ALOV/ + ILSVRC2014_Det/)
#   bash goturn/test/train_full_1p.sh                            # synthetic demo data, a few minutes on a CPU
NETWORK=GOTURN MODULE=goturn.train RANK_SIZE=1 MODE=acc BATCH_SIZE=50
TRAIN_ARGS=(--epochs 20)
# Demo: no CaffeNet weights ship with the package, so the demo trains the small
# caffenet-tiny end to end from scratch: AdamW, lr 2e-3 with a cosine decay over
# 1100 steps (30 warm-up), targets cut around a slightly moved previous box (the
# drift a tracker makes); examples made in the training process (--workers 0: on
# 2 cores a loader process slows the step more than it saves). About 3.5 minutes
# on a 2-core CPU. The checkpoint records how its tracker runs: against the first
# frame's template, keeping its box while the colour score is below 0.3, and a box
# cut by the image border keeping its length beyond it (this network, trained for
# minutes, follows whatever object is nearest the crop's centre, and its own
# appearance score can rate an occluder as the object); see goturn/README.md,
# "Demo data and the demo recipe".
DEMO_ARGS=(--network caffenet-tiny --pretrained_model none --freeze_convs false
           --optimizer adamw --lr 2e-3 --wd 1e-4 --lr_schedule cosine --warmup_steps 30
           --target_jitter 15 --epochs 4 --max_steps 1100 --val_batches 4 --val_every 275 --workers 0
           --track_hold_below 0.3 --track_template first --track_border keep --track_score colour)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
