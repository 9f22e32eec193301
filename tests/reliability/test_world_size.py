"""Resuming with another number of processes: a checkpoint counts the epoch's steps in its own
run's global batches; the resumed run converts them to its own (nothing skipped, at most one
global batch seen again) and, for GloRe, whose schedule is set per epoch, puts the learning rate
where an uninterrupted run of the new size has it."""

import pytest

from common.checkpoint import load_checkpoint
from tests.conftest import run_python
from tests.reliability.test_resume import COMMON, MODELS, make_data

TORCHRUN = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]


def train(model, data, output_dir, processes: int, *extra):
    launcher = [*TORCHRUN, str(processes)] if processes > 1 else []
    result = run_python(
        *launcher,
        "-m",
        f"{model}.train",
        "--data_path",
        str(data),
        "--output_dir",
        str(output_dir),
        *MODELS[model]["args"],
        *COMMON,
        "--workers",
        "0",
        "--save_every",
        "0",
        *extra,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    return log, load_checkpoint(output_dir / "checkpoint.pth")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("world_size")
    return {model: make_data(model, root) for model in MODELS}


def test_goturn_resumed_on_two_processes_goes_on_from_the_batches_one_process_reached(data, tmp_path):
    """1 process, 3 steps: stream batches 0-2 trained. On 2 processes a step takes two batches:
    the run goes on at its step 1 (batches 2 and 3), not at its step 3 (batches 6 and 7)."""
    _, first = train("goturn", data["goturn"], tmp_path, 1, "--max_steps", "3")
    assert (first["step"], first["step_in_epoch"], first["world_size"]) == (3, 3, 1)
    log, final = train("goturn", data["goturn"], tmp_path, 2, "--max_steps", "5", "--resume", "auto")
    assert "from this run's step 2 of" in log and "step counter goes on from 3" in log
    assert (final["step"], final["step_in_epoch"], final["world_size"]) == (5, 3, 2)


def test_glore_resumed_on_two_processes_is_where_a_two_process_run_is(data, tmp_path):
    """16 videos in batches of 2: 8 steps per epoch on 1 process, 4 on 2. After 6 steps on one
    process (12 videos), 2 processes go on at their step 3 and end with the schedule of an
    uninterrupted 2-process run."""
    _, first = train("glore", data["glore"], tmp_path / "resumed", 1, "--max_steps", "6")
    assert (first["epoch"], first["step_in_epoch"]) == (0, 6)
    log, resumed = train(
        "glore", data["glore"], tmp_path / "resumed", 2, "--max_steps", "0", "--resume", "auto"
    )
    assert "from this run's step 4 of 4" in log and "its step 6 is this run's step 3" in log
    _, straight = train("glore", data["glore"], tmp_path / "straight", 2, "--max_steps", "0")
    assert (resumed["epoch"], resumed["step"]) == (straight["epoch"], straight["step"]) == (2, 8)
    assert resumed["lr_scheduler"]["last_epoch"] == straight["lr_scheduler"]["last_epoch"] == 8
    lrs = [[group["lr"] for group in state["optimizer"]["param_groups"]] for state in (resumed, straight)]
    assert lrs[0] == pytest.approx(lrs[1])
    # 4 steps on 1 process, then 5 on 2 (its steps 3 to 8): each step logged once, in order.
    steps = [int(line.split()[0]) for line in (tmp_path / "resumed" / "loss.txt").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 8
