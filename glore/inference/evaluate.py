"""Evaluate a GloRe checkpoint on a whole test list: clip accuracy and video accuracy, exactly.

    python -m glore.inference.evaluate --checkpoint C --data_path D [--split N] [--clips 10] \
        [--crops 3] --out DIR
    torchrun --nproc_per_node 8 -m glore.inference.evaluate ...        (same report, faster)

Two numbers that are often confused, both reported and labelled:
- clip accuracy: one centred clip per video, centre crop (what training's validation reports);
- video accuracy: the softmax averaged over K evenly spaced clips x M crops per video.

Exact under torchrun (glore/inference/scoring.py); the report is glore/inference/report.py's.
"""

import argparse
from pathlib import Path

from common.cli import add_runtime_args, positive_int
from common.errors import run_cli
from common.model_card import append_evaluation
from common.runtime import setup_runtime
from glore.data.layout import list_path, load_split
from glore.inference.report import evaluate_and_report
from glore.inference.trained_model import labels_for_model, load_trained_model

DEFINITIONS = (
    "clip accuracy: one centred clip per video, centre crop (training's validation); video "
    "accuracy: the scores of --clips clips x --crops crops per video averaged (report.json)"
)


def main(args):
    args.output_dir = args.out or args.output_dir
    rt = setup_runtime(args, trains=False)
    trained = load_trained_model(args.checkpoint, rt.device)
    data = load_split(args.data_path, args.split, args.data_format)
    test_list = list_path(data.root, "val", args.split, data.data_format)
    records = labels_for_model(data.val, data.class_names, trained.class_names, args, rt.log)
    rt.log.info(f"checkpoint {args.checkpoint}, test list {test_list}")
    report = evaluate_and_report(
        trained.model,
        records,
        trained.class_names,
        rt,
        trained.clip_input,
        clips=args.clips,
        crops=args.crops,
        batch_size=args.batch_size,
        workers=args.workers,
        skip_bad=args.skip_bad,
        print_freq=args.print_freq,
        channels_last=trained.channels_last,
        checkpoint=str(args.checkpoint),
        list=str(test_list),
        split=args.split,
    )
    if report:
        figures = {
            report[level]["name"]: f"top-1 {report[level]['top1']:.2f} %, top-5 {report[level]['top5']:.2f} %"
            for level in ("clip", "video")
        }
        figures["videos"] = report["video"]["videos"]
        title = f"glore.evaluate, {Path(test_list).name}"
        card = append_evaluation(args.checkpoint, title, figures, DEFINITIONS)
        if card:
            rt.log.info(f"model card: figures appended to {card}")
    rt.finish()


def get_args_parser():
    parser = argparse.ArgumentParser(
        description="GloRe evaluation: clip and video accuracy over a whole test list."
    )
    parser.add_argument("--checkpoint", required=True, help="checkpoint written by glore.train")
    parser.add_argument("--data_path", required=True, help="data set root, laid out as for glore.train")
    parser.add_argument(
        "--split", type=int, default=1, choices=(1, 2, 3), help="UCF-101 split whose test list is used"
    )
    parser.add_argument(
        "--data_format",
        default="auto",
        choices=("auto", "rawframes", "videos"),
        help="read extracted frames or decode the videos (auto: rawframes when listed)",
    )
    parser.add_argument(
        "--clips", type=positive_int, default=10, help="evenly spaced clips per video for video accuracy"
    )
    parser.add_argument(
        "--crops", type=positive_int, default=3, help="crops per clip along the long side for video accuracy"
    )
    parser.add_argument(
        "--batch_size",
        type=positive_int,
        default=32,
        help="clips per forward pass (whole videos; at least one video)",
    )
    parser.add_argument("--out", default=None, help="report folder (same as --output_dir)")
    add_runtime_args(parser)
    parser.set_defaults(tensorboard=False, output_dir="glore_eval")
    return parser


if __name__ == "__main__":
    run_cli(main, get_args_parser())
