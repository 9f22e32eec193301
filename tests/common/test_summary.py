"""result.json and the ModelZoo summary: a figure that was not measured is null (JSON has no
NaN), and the summary says nan for it."""

import json
import math

import pytest

from common.summary import RESULT_FILE, print_summary, write_result


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_unmeasured_figures_are_null_in_result_json_and_nan_in_the_summary(tmp_path, capsys):
    write_result(
        tmp_path,
        network="Tiny",
        batch_size=8,
        rank_size=1,
        fps=12.5,
        fps_unit="samples/s",
        accuracy=math.nan,  # no validation ran (--epochs 0, --val_batches 0)
        accuracy_name="val loss",
        loss=math.inf,
        extra={"val_top5": math.nan, "per_class": [1.0, math.nan]},
    )
    result = strict_json((tmp_path / RESULT_FILE).read_text())
    assert result["accuracy"] is None and result["loss"] is None
    assert result["extra"] == {"val_top5": None, "per_class": [1.0, None]}
    assert print_summary(tmp_path, tmp_path / "case", "Tiny_bs8_1p_acc", 3.0) == 0
    assert "Final Train Accuracy : nan" in capsys.readouterr().out
    summary = (tmp_path / "case" / "Tiny_bs8_1p_acc.log").read_text()
    assert "TrainAccuracy = nan\n" in summary and "ActualLoss = nan\n" in summary


@pytest.mark.parametrize("fps", [0.0, None])
def test_no_throughput_gives_no_step_time(tmp_path, fps):
    (tmp_path / RESULT_FILE).write_text(
        json.dumps(
            {
                "network": "T",
                "batch_size": 8,
                "rank_size": 1,
                "fps": fps,
                "fps_unit": "x",
                "accuracy": 1.0,
                "accuracy_name": "a",
                "loss": 1.0,
                "extra": {},
            }
        )
    )
    assert print_summary(tmp_path, tmp_path / "case", "T", 1.0) == 0
    assert "TrainingTime = nan\n" in (tmp_path / "case" / "T.log").read_text()
