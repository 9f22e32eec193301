"""Both models train on the machine's GPU or NPU (skipped where there is
none): fp32 lowers the loss; bf16 and fp16 (with its GradScaler) run with the
pixel work on the device and channels-last; --compile runs; and the run
records the device it used. The CPU runs of the same code are in
tests/goturn/test_train.py, tests/glore/test_train.py and the device-path tests."""

import json
import math

import pytest

from tests.glore.test_train import run as glore_run
from tests.goturn.test_train import data_path, train  # noqa: F401 (data_path is a fixture)
from tests.helpers.devices import ACCELERATOR, needs_accelerator

pytestmark = needs_accelerator

CASES = [
    pytest.param("fp32", "loader", False, id="fp32"),
    pytest.param("bf16", "device", False, id="bf16-on-device"),
    pytest.param("fp16", "device", False, id="fp16-on-device"),
    pytest.param("bf16", "device", True, id="bf16-compiled"),
]


def losses_of(output_dir) -> list[float]:
    return [float(line.split()[1]) for line in (output_dir / "loss.txt").read_text().splitlines()]


def assert_ran_on_the_accelerator(output_dir, precision: str) -> dict:
    info = json.loads((output_dir / "run_info.json").read_text())
    assert info["device_type"] == ACCELERATOR.type and info["precision"] == precision
    return json.loads((output_dir / "result.json").read_text())


@pytest.mark.parametrize("precision, crops_on, compiled", CASES)
def test_goturn_trains_on_the_accelerator(data_path, tmp_path, precision, crops_on, compiled):  # noqa: F811
    train(
        data_path,
        tmp_path,
        "--device",
        ACCELERATOR.type,
        "--precision",
        precision,
        "--pixels_on",
        crops_on,
        "--compile",
        str(compiled).lower(),
        "--epochs",
        "1",
        "--max_steps",
        "6",
    )
    result = assert_ran_on_the_accelerator(tmp_path, precision)
    losses = losses_of(tmp_path)
    assert len(losses) == 6 and all(math.isfinite(loss) for loss in losses)
    if precision == "fp32":
        assert losses[-1] < losses[0]
    assert result["fps"] > 0 and math.isfinite(result["accuracy"])


@pytest.fixture(scope="module")
def glore_data(tmp_path_factory):
    from tests.helpers.glore_fixtures import make_tiny_demo

    return str(make_tiny_demo(tmp_path_factory.mktemp("glore_accelerator") / "demo"))


@pytest.mark.parametrize("precision, augment_on, compiled", CASES)
def test_glore_trains_on_the_accelerator(glore_data, tmp_path, precision, augment_on, compiled):
    # 8 steps of 4 clips are too few and too noisy for the loss to fall
    # reliably (the CPU tests check learning); lr 0.01 keeps them finite
    # (the tiny test setup's 0.05 sends the BN statistics to 1e13).
    state = glore_run(
        glore_data,
        tmp_path,
        "--device",
        ACCELERATOR.type,
        "--precision",
        precision,
        "--pixels_on",
        augment_on,
        "--compile",
        str(compiled).lower(),
        "--workers",
        "2",
        "--lr",
        "0.01",
    )
    result = assert_ran_on_the_accelerator(tmp_path, precision)
    losses = losses_of(tmp_path)
    assert len(losses) == 8 and all(math.isfinite(loss) for loss in losses)
    assert math.isfinite(state["val"]["loss"]) and 0.0 <= result["accuracy"] <= 100.0
    assert result["fps"] > 0
