#!/usr/bin/env bash
# Unpack the per-folder tars inside ILSVRC2014_DET_train.tar into
# IMAGES_DIR/<folder>/<name>.JPEG (resumable: finished folders are skipped).
#
#   tar -xf ILSVRC2014_DET_train.tar            # gives ILSVRC2014_DET_train/*.tar
#   bash goturn/unzip_imagenet.sh ILSVRC2014_DET_train dataset/ILSVRC2014_Det/images
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: bash $0 TARS_DIR IMAGES_DIR" >&2
    exit 2
fi
TARS=$1
IMAGES=$2
[ -d "$TARS" ] || { echo "error: $TARS is not a directory (extract ILSVRC2014_DET_train.tar first)" >&2; exit 2; }
mkdir -p "$IMAGES"

shopt -s nullglob
tars=("$TARS"/*.tar)
[ ${#tars[@]} -gt 0 ] || { echo "error: no .tar files in $TARS" >&2; exit 2; }
done_count=0
for tar_file in "${tars[@]}"; do
    name=$(basename "$tar_file" .tar)
    target="$IMAGES/$name"
    if [ -f "$target/.unpacked" ]; then
        done_count=$((done_count + 1))
        continue
    fi
    # Unpack beside the target, then rename: an interrupted run leaves no half folder.
    partial="$IMAGES/.$name.partial"
    rm -rf "$partial" && mkdir -p "$partial"
    tar -xf "$tar_file" -C "$partial"
    # Some tars hold a top folder of their own name; keep one level only.
    if [ -d "$partial/$name" ] && [ "$(ls -A "$partial" | wc -l)" -eq 1 ]; then
        mv "$partial/$name" "$partial.inner" && rm -rf "$partial" && mv "$partial.inner" "$partial"
    fi
    touch "$partial/.unpacked"
    rm -rf "$target" && mv "$partial" "$target"
    done_count=$((done_count + 1))
    echo "[$done_count/${#tars[@]}] $name"
done
echo "done: ${#tars[@]} folders in $IMAGES"
