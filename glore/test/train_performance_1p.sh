#!/usr/bin/env bash
# GloRe: throughput on one device (seed: 3 epochs; here capped at 1000 steps), 4 clips per step.
#   bash glore/test/train_performance_1p.sh --data_path=/data/ucf101
NETWORK=GloRe MODULE=glore.train RANK_SIZE=1 MODE=perf BATCH_SIZE=4
TRAIN_ARGS=(--epochs 3 --max_steps 1000 --batch_size 4 --lr 0.001 --amp --opt-level O2)
DEMO_ARGS=(--network resnet14-tiny --pretrained none --amp false --crop_size 32 --short_side 32 48 --resize 36
           --flip_prob 0 --batch_size 8 --lr 0.04 --max_steps 40)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
