"""glore.evaluate under torchrun: two processes give the report and the per-video scores of one
process, bit for bit (every video once, none padded or repeated), unreadable videos included."""

import json
import shutil

import numpy as np

from tests.conftest import run_python
from tests.helpers.glore_fixtures import make_checkpoint, make_rawframes_dataset

CLASSES = ["Alpha", "Beta", "Gamma"]


def evaluate(tmp_path, out_name, *launcher):
    out = tmp_path / out_name
    result = run_python(
        *launcher,
        "-m",
        "glore.evaluate",
        "--checkpoint",
        str(tmp_path / "model.pth"),
        "--data_path",
        str(tmp_path / "data"),
        "--out",
        str(out),
        "--workers",
        "0",
        "--batch_size",
        "62",
        "--skip_bad",
        "true",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "report.json").read_text()), np.load(out / "scores.npz"), result.stdout


def test_two_processes_give_the_one_process_report(tmp_path):
    make_rawframes_dataset(tmp_path / "data", CLASSES, videos_per_class=3)
    # One listed video has lost its frames: both runs must count it once, as a miss.
    shutil.rmtree(tmp_path / "data" / "rawframes" / "Beta" / "v_Beta_g02_c01")
    make_checkpoint(tmp_path / "model.pth", CLASSES)

    single, single_scores, log = evaluate(tmp_path, "one")
    double, double_scores, _ = evaluate(
        tmp_path, "two", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"
    )

    assert single["counts"] == {
        "videos": 9,
        "classes": 3,
        "unreadable": 1,
        "clips_per_video": 31,
        "clips_scored": 8 * 31,
    }
    assert double["speed"]["processes"] == 2
    for key in single:
        if key != "speed":
            assert double[key] == single[key], key
    for name in single_scores.files:
        np.testing.assert_array_equal(double_scores[name], single_scores[name])
    assert "clip accuracy (1 centred clip)" in log and "video accuracy (10 clips x 3 crops)" in log
