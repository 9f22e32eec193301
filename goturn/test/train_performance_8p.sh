#!/usr/bin/env bash
# GOTURN: throughput on 8 devices of one node (seed: --epochs 3 --max_steps 13000).
#   bash goturn/test/train_performance_8p.sh --data_path=/data/goturn
NETWORK=GOTURN MODULE=goturn.train RANK_SIZE=8 MODE=perf BATCH_SIZE=50
TRAIN_ARGS=(--epochs 3 --max_steps 13000 --val_batches 20)
DEMO_ARGS=(--max_steps 8 --pretrained_model none --freeze_convs true --val_batches 8 --workers 0)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
