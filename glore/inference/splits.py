"""The mean over UCF-101's three splits, the number papers report.

    python -m glore.inference.splits runs/split1/eval/report.json runs/split2/eval/report.json \\
        runs/split3/eval/report.json [--out runs/mean_over_splits.json]

Each report comes from `python -m glore.inference.evaluate --split N` on a model trained with `--split N`
(glore/README.md, "Mean over the three splits"). Reports are averaged only when they are
comparable: distinct splits, the same clips x crops, the same clip geometry.
"""

import argparse
import json
from pathlib import Path

from common.errors import UserError, run_cli

LEVELS = ("clip", "video")
METRICS = ("top1", "top5")


def read_report(path: str) -> dict:
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"cannot read evaluation report {path}: {error}") from error
    missing = [key for key in (*LEVELS, "context") if key not in report]
    if missing:
        raise UserError(f"{path} is not a glore.inference.evaluate report.json (no {', '.join(missing)})")
    return report


def mean_over_splits(reports: dict[str, dict]) -> dict:
    """Per-split and mean top-1/top-5 at clip and video level; refuses incomparable reports."""
    splits = {path: report["context"].get("split") for path, report in reports.items()}
    if len(set(splits.values())) != len(splits):
        raise UserError(f"reports must come from distinct splits, got {splits}")
    for key, describe in (
        ("video", lambda r: r["video"]["name"]),
        ("clip_input", lambda r: r["context"].get("clip_input")),
    ):
        seen = {path: describe(report) for path, report in reports.items()}
        if len({json.dumps(v, sort_keys=True) for v in seen.values()}) > 1:
            raise UserError(f"reports differ in {key} and cannot be averaged: {seen}")
    ordered = sorted(reports.items(), key=lambda item: item[1]["context"]["split"])
    summary = {
        "splits": [report["context"]["split"] for _, report in ordered],
        "reports": [p for p, _ in ordered],
    }
    for level in LEVELS:
        name = ordered[0][1][level]["name"]
        per_split = {m: [report[level][m] for _, report in ordered] for m in METRICS}
        summary[level] = {
            "name": name,
            **{f"mean_{m}": sum(values) / len(values) for m, values in per_split.items()},
            **{f"per_split_{m}": values for m, values in per_split.items()},
            "videos": [report[level]["videos"] for _, report in ordered],
        }
    return summary


def main(args):
    summary = mean_over_splits({path: read_report(path) for path in args.reports})
    print(f"splits {summary['splits']}")
    for level in LEVELS:
        entry = summary[level]
        per_split = "  ".join(f"{v:.2f}" for v in entry["per_split_top1"])
        print(
            f"{entry['name']}: mean top-1 {entry['mean_top1']:.2f}%  mean top-5 {entry['mean_top5']:.2f}%  "
            f"(top-1 per split: {per_split})"
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
        print(f"written to {args.out}")


def get_args_parser():
    parser = argparse.ArgumentParser(description="Average glore.evaluate reports over UCF-101 splits.")
    parser.add_argument("reports", nargs="+", help="report.json of each split")
    parser.add_argument("--out", default="", help="also write the summary to this JSON file")
    return parser


if __name__ == "__main__":
    run_cli(main, get_args_parser())
