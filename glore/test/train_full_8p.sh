#!/usr/bin/env bash
# GloRe: full fine-tuning on 8 devices of one node (seed: 90 epochs, 16 clips per device per step,
# lr 0.004, AMP O2).
#   bash glore/test/train_full_8p.sh --data_path=/data/ucf101
NETWORK=GloRe MODULE=glore.train RANK_SIZE=8 MODE=acc BATCH_SIZE=16
TRAIN_ARGS=(--epochs 90 --batch_size 16 --lr 0.004 --amp --opt-level O2)
# Demo: 8 CPU processes, a few steps of the reduced configuration (a smoke test of the 8p path).
DEMO_ARGS=(--network resnet14-tiny --pretrained none --amp false --crop_size 32 --short_side 32 48 --resize 36
           --flip_prob 0 --batch_size 8 --lr 0.04 --epochs 1 --max_steps 3 --workers 0)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
