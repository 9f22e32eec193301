#!/usr/bin/env bash
# GloRe: throughput on 8 devices of one node (seed: 3 epochs; here capped at 500 steps),
# 16 clips per device per step.
#   bash glore/test/train_performance_8p.sh --data_path=/data/ucf101
NETWORK=GloRe MODULE=glore.train RANK_SIZE=8 MODE=perf BATCH_SIZE=16
TRAIN_ARGS=(--epochs 3 --max_steps 500 --batch_size 16 --lr 0.004 --amp --opt-level O2)
DEMO_ARGS=(--network resnet14-tiny --pretrained none --amp false --crop_size 32 --short_side 32 48 --resize 36
           --flip_prob 0 --batch_size 8 --lr 0.04 --max_steps 3 --workers 0)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
