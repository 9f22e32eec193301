"""glore.inference.splits: the mean over UCF-101 splits, and refusal to average incomparable reports."""

import json

import pytest

from common.errors import UserError
from glore.inference.splits import get_args_parser, main, mean_over_splits

VIDEO_NAME = "video accuracy (10 clips x 3 crops)"


def report(split, clip_top1, video_top1, video_name=VIDEO_NAME, resize=256):
    return {
        "context": {
            "split": split,
            "clip_input": {"clip_len": 8, "interval": 8, "crop_size": 224, "resize": resize},
        },
        "clip": {"name": "clip accuracy (1 centred clip)", "top1": clip_top1, "top5": 99.0, "videos": 3783},
        "video": {"name": video_name, "top1": video_top1, "top5": 100.0, "videos": 3783},
    }


def test_mean_over_three_splits():
    summary = mean_over_splits(
        {"c": report(3, 90.0, 93.0), "a": report(1, 92.0, 95.0), "b": report(2, 91.0, 94.0)}
    )
    assert summary["splits"] == [1, 2, 3]
    assert summary["clip"]["mean_top1"] == pytest.approx(91.0)
    assert summary["video"]["mean_top1"] == pytest.approx(94.0)
    assert summary["video"]["per_split_top1"] == [95.0, 94.0, 93.0]
    assert summary["video"]["name"] == VIDEO_NAME


@pytest.mark.parametrize(
    "other",
    [
        report(1, 91.0, 94.0),
        report(2, 91.0, 94.0, video_name="video accuracy (1 clips x 1 crops)"),
        report(2, 91.0, 94.0, resize=128),
    ],
)
def test_incomparable_reports_are_refused(other):
    with pytest.raises(UserError):
        mean_over_splits({"a": report(1, 92.0, 95.0), "b": other})


def test_command_line_writes_the_summary(tmp_path, capsys):
    paths = []
    for split in (1, 2, 3):
        path = tmp_path / f"split{split}.json"
        path.write_text(json.dumps(report(split, 90.0 + split, 93.0 + split)))
        paths.append(str(path))
    out = tmp_path / "mean.json"
    main(get_args_parser().parse_args([*paths, "--out", str(out)]))
    assert "video accuracy (10 clips x 3 crops): mean top-1 95.00%" in capsys.readouterr().out
    assert json.loads(out.read_text())["clip"]["mean_top1"] == pytest.approx(92.0)
