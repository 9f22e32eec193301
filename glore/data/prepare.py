"""Prepare UCF-101 for training: official split files -> extracted frames + mmaction2 lists.

    python -m glore.data.prepare --videos D/ucf101/videos --annotations D/ucfTrainTestlist --out D/ucf101

The work and the files it writes are described in glore/data/preparation.py.
"""

import argparse
import os

from common.cli import add_bool_flag
from common.errors import UserError, run_cli
from glore.data.preparation import prepare


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", required=True, help="folder of Class/v_….avi (e.g. ucf101/videos)")
    parser.add_argument(
        "--annotations",
        required=True,
        help="folder with classInd.txt, trainlist0N.txt, testlist0N.txt (ucfTrainTestlist)",
    )
    parser.add_argument("--out", default=None, help="output root (default: the parent of --videos)")
    parser.add_argument("--splits", type=int, nargs="+", default=[1, 2, 3], choices=(1, 2, 3))
    parser.add_argument(
        "--formats",
        nargs="+",
        default=["rawframes", "videos"],
        choices=("rawframes", "videos"),
        help="which lists to write; rawframes also extracts the frames",
    )
    parser.add_argument(
        "--workers", type=int, default=max(1, (os.cpu_count() or 2)), help="parallel extraction processes"
    )
    parser.add_argument("--jpeg_quality", type=int, default=95)
    add_bool_flag(
        parser,
        "--skip_bad",
        default=False,
        help="leave unreadable videos out of the lists (counted) instead of stopping",
    )
    return parser


def main(args) -> dict:
    out = args.out or os.path.dirname(os.path.abspath(args.videos))
    if not os.path.isdir(args.videos):
        raise UserError(f"--videos {args.videos} is not a folder")
    return prepare(
        args.videos,
        args.annotations,
        out,
        tuple(args.splits),
        tuple(args.formats),
        args.workers,
        args.jpeg_quality,
        args.skip_bad,
    )


if __name__ == "__main__":
    run_cli(main, get_args_parser())
