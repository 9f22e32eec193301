"""Classify one video with a trained GloRe checkpoint.

    python -m glore.inference.predict --checkpoint C VIDEO_or_FRAMES_DIR [--topk 5] [--clips 10] [--crops 3]

The input is a video file (decoded with PyAV) or a folder of img_00001.jpg, ... frames, of any
length: a video shorter than one clip is played in a loop, as in training. The prediction is
the softmax averaged over evenly spaced clips x crops, exactly as glore.inference.evaluate's video
accuracy; the class names come from the checkpoint.
"""

import argparse

import torch

from common.cli import positive_int
from common.device import resolve_device
from common.errors import run_cli
from glore.inference.trained_model import load_trained_model, predict_video


def main(args):
    device = resolve_device(args.device)
    trained = load_trained_model(args.checkpoint, device)
    probabilities = predict_video(trained, args.input, args.clips, args.crops, device)
    top = torch.topk(probabilities, min(args.topk, len(probabilities)))
    print(f"{args.input}: averaged over {args.clips} clips x {args.crops} crops")
    width = max(len(trained.class_names[i]) for i in top.indices.tolist())
    for rank, (p, i) in enumerate(zip(top.values.tolist(), top.indices.tolist()), start=1):
        print(f"{rank:>3}. {trained.class_names[i]:<{width}}  {100.0 * p:6.2f}%")


def get_args_parser():
    parser = argparse.ArgumentParser(description="Top-k classes of one video with a GloRe checkpoint.")
    parser.add_argument(
        "input", metavar="VIDEO_or_FRAMES_DIR", help="a video file or a folder of img_*.jpg frames"
    )
    parser.add_argument("--checkpoint", required=True, help="checkpoint written by glore.train")
    parser.add_argument("--topk", type=positive_int, default=5, help="how many classes to print")
    parser.add_argument("--clips", type=positive_int, default=10, help="evenly spaced clips to average over")
    parser.add_argument("--crops", type=positive_int, default=3, help="crops per clip along the long side")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | npu, optionally :N")
    return parser


if __name__ == "__main__":
    run_cli(main, get_args_parser())
