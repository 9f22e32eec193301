#!/usr/bin/env bash
# GloRe: full fine-tuning on one device (seed: 90 epochs, 4 clips per step, lr 0.001, AMP O2).
#   bash glore/test/train_full_1p.sh --data_path=/data/ucf101   # real data (see glore/README.md)
#   bash glore/test/train_full_1p.sh                            # synthetic demo data, a few minutes on a CPU
NETWORK=GloRe MODULE=glore.train RANK_SIZE=1 MODE=acc BATCH_SIZE=4
TRAIN_ARGS=(--epochs 90 --batch_size 4 --lr 0.001 --amp --opt-level O2)
# Demo: the reduced configuration of glore/README.md (resnet14-tiny with 2 GloRe units, 8x32x32
# clips, no flip since left/right and clockwise/counter-clockwise are classes), trained from scratch.
DEMO_ARGS=(--network resnet14-tiny --pretrained none --amp false --crop_size 32 --short_side 32 48 --resize 36
           --flip_prob 0 --batch_size 8 --lr 0.04 --warmup_epochs 1 --lr_schedule cosine --epochs 25)
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/launcher.sh"
