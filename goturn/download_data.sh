#!/usr/bin/env bash
# Download the GOTURN training data into DIR (resumable: run it again after an
# interruption and each file continues where it stopped).
#
#   bash goturn/download_data.sh DIR
#
# ImageNet DET (ILSVRC2014) needs an image-net.org account: if the default
# URLs answer with a login page, pass the links you were given, e.g.
#   IMAGENET_DET_TRAIN_URL=... IMAGENET_DET_BBOX_URL=... bash goturn/download_data.sh DIR
# Then unpack as goturn/README.md ("Dataset") describes.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: bash $0 OUTPUT_DIR   (e.g. bash $0 dataset/downloads)" >&2
    exit 2
fi
OUT=$1
mkdir -p "$OUT"

URLS=(
    "${IMAGENET_DET_TRAIN_URL:-http://image-net.org/image/ilsvrc2014/ILSVRC2014_DET_train.tar}"
    "${IMAGENET_DET_BBOX_URL:-http://image-net.org/image/ilsvrc2014/ILSVRC2014_DET_bbox_train.tgz}"
    "${ALOV_FRAMES_URL:-http://isis-data.science.uva.nl/alov/alov300++_frames.zip}"
    "${ALOV_GT_URL:-http://isis-data.science.uva.nl/alov/alov300++GT_txtFiles.zip}"
)

fetch() {  # fetch URL FILE: continue a partial FILE instead of starting over
    if command -v wget >/dev/null; then
        wget --continue --tries=5 --output-document="$2" "$1"
    elif command -v curl >/dev/null; then
        curl --fail --location --retry 5 --continue-at - --output "$2" "$1"
    else
        echo "error: neither wget nor curl is installed" >&2
        exit 2
    fi
}

for url in "${URLS[@]}"; do
    file="$OUT/$(basename "${url%%\?*}")"
    echo "downloading $url -> $file"
    if ! fetch "$url" "$file"; then
        echo "error: could not download $url (ImageNet needs an account: see the top of $0)" >&2
        exit 1
    fi
done
echo "done: $(ls "$OUT")"
