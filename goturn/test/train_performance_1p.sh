#!/usr/bin/env bash
# GOTURN: throughput on one device (seed: --epochs 3 --max_steps 8000).
#   bash goturn/test/train_performance_1p.sh --data_path=/data/goturn
NETWORK=GOTURN MODULE=goturn.train RANK_SIZE=1 MODE=perf BATCH_SIZE=50
TRAIN_ARGS=(--epochs 3 --max_steps 8000 --val_batches 20)
DEMO_ARGS=(--max_steps 25 --pretrained_model none --freeze_convs true --val_batches 2)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
