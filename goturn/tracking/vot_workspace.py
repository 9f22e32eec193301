"""A VOT toolkit workspace from sequences this project reads (ALOV, OTB, GOT-10k), to run
GOTURN through the toolkit (``goturn.vot``) on them:

    python -m goturn.tracking.vot_workspace --data_path dataset/goturn_demo/ALOV --dataset alov \\
        --checkpoint goturn/runs/GOTURN_bs50_1p_acc_demo/checkpoint.pth --out vot_demo
    cd vot_demo && vot evaluate GOTURN && vot analysis GOTURN

``OUT`` gets the toolkit's layout: ``config.yaml`` (stack and tracker registry),
``stack.yaml`` (one unsupervised experiment, scored by average overlap), ``trackers.ini``
(the GOTURN entry: ``goturn.vot`` over TraX, this checkpoint, this repository on the path) and
``sequences/`` (``list.txt``; per sequence ``sequence``, ``groundtruth.txt`` and
``color/%08d.jpg``). A VOT sequence has a box on every frame; ALOV annotates every fifth, so a
sequence keeps its annotated frames only (links to the images, none copied): the tracker sees
the video at a fifth of its frame rate, as GOTURN's training pairs do.
"""

import argparse
import os
import shutil
from pathlib import Path

import numpy as np

from common.errors import UserError, run_cli
from goturn.data.records import VAL_FRACTION
from goturn.tracking.sequences import DATASETS, Sequence, read_alov, read_sequences

REPOSITORY = Path(__file__).resolve().parents[2]
STACK = """title: GOTURN on {source}
experiments:
  unsupervised:
    type: unsupervised
    repetitions: 1
    analyses:
      - type: average_accuracy
        name: accuracy
        burnin: 1
"""
TRACKER = """[GOTURN]
label = GOTURN
protocol = traxpython
command = goturn.vot
paths = {repository}
env_GOTURN_CHECKPOINT = {checkpoint}
env_GOTURN_DEVICE = {device}
"""


def annotated_frames(sequence: Sequence) -> tuple[list[str], np.ndarray]:
    """The frames with a box, and those boxes (x, y, w, h)."""
    boxes = np.asarray(sequence.ground_truth, dtype=np.float64)
    keep = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    return [frame for frame, kept in zip(sequence.frames, keep) if kept], boxes[keep]


def write_sequence(root: Path, sequence: Sequence) -> bool:
    """``root/<name>`` in the toolkit's layout; False (nothing written) for a sequence with fewer
    than two annotated frames."""
    frames, boxes = annotated_frames(sequence)
    if len(frames) < 2:
        return False
    folder = root / sequence.name
    (folder / "color").mkdir(parents=True)
    for number, frame in enumerate(frames, start=1):
        source = Path(frame).resolve()
        (folder / "color" / f"{number:08d}{source.suffix.lower()}").symlink_to(source)
    suffix = Path(frames[0]).suffix.lower()
    (folder / "sequence").write_text(
        f"channel.default=color\nchannels.color=color/%08d{suffix}\nfps=30\nformat=default\n"
    )
    (folder / "groundtruth.txt").write_text(
        "".join(",".join(f"{v:.2f}" for v in box) + "\n" for box in boxes)
    )
    return True


def write_workspace(
    out, sequences: list[Sequence], checkpoint, source: str, device: str = "cpu"
) -> list[str]:
    """The workspace in ``out`` (written to ``out.tmp`` and renamed); returns the sequences
    written."""
    out = Path(out)
    if out.exists():
        raise UserError(f"{out}: exists; the workspace is written to a new folder")
    checkpoint = Path(checkpoint).resolve()
    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: no such checkpoint")
    temp = out.with_name(out.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    names = [s.name for s in sequences if write_sequence(temp / "sequences", s)]
    if not names:
        shutil.rmtree(temp, ignore_errors=True)
        raise UserError("no sequence has two annotated frames: nothing to write")
    (temp / "sequences" / "list.txt").write_text("".join(f"{name}\n" for name in names))
    (temp / "config.yaml").write_text("registry:\n- ./trackers.ini\nstack: ./stack.yaml\n")
    (temp / "stack.yaml").write_text(STACK.format(source=source))
    (temp / "trackers.ini").write_text(
        TRACKER.format(repository=REPOSITORY, checkpoint=checkpoint, device=device)
    )
    os.replace(temp, out)
    return names


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Write a VOT toolkit workspace that runs GOTURN on sequences."
    )
    parser.add_argument("--data_path", required=True, help="the sequences (see goturn.tracking.evaluate)")
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="the layout DATA_PATH holds")
    parser.add_argument(
        "--split", default=None, help="ALOV: val (default), train or all; GOT-10k: val or train"
    )
    parser.add_argument("--checkpoint", required=True, help="the GOTURN checkpoint the tracker entry runs")
    parser.add_argument("--device", default="cpu", help="the device the tracker entry asks for")
    parser.add_argument("--out", required=True, help="the workspace folder (must not exist)")
    return parser


def main(args) -> None:
    if args.dataset == "alov":
        sequences = read_alov(args.data_path, args.split or "val", VAL_FRACTION)
    else:
        sequences = read_sequences(args.dataset, args.data_path, args.split)
    names = write_workspace(
        args.out, sequences, args.checkpoint, f"{args.dataset} {args.data_path}", args.device
    )
    print(f"VOT workspace with {len(names)} sequences in {args.out}: cd there, then vot evaluate GOTURN")


if __name__ == "__main__":
    run_cli(main, get_args_parser())
