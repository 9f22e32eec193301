"""Ranks die with their launcher: a torchrun killed with SIGKILL takes its ranks with it, and
they stop as a signalled run does (a checkpoint saved), instead of training on as orphans."""

import os
import signal
import subprocess
import sys

import pytest

from common.checkpoint import load_checkpoint
from tests.conftest import REPO_ROOT
from tests.helpers.processes import descendants, kill_all, wait_until_dead
from tests.reliability.test_faults import wait_for_line

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")


def test_ranks_of_a_killed_torchrun_stop_and_save(tmp_path):
    out = tmp_path / "run"
    torchrun = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "tests.helpers.tiny_train",
            "--tensorboard",
            "false",
            "--workers",
            "0",
            "--data_path",
            str(tmp_path),
            "--output_dir",
            str(out),
            "--epochs",
            "500",
            "--step_seconds",
            "0.05",
            "--dist_timeout",
            "60",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ranks = []
    try:
        wait_for_line(torchrun, "training started", timeout=120)
        ranks = descendants(torchrun.pid)
        assert len(ranks) >= 2
        torchrun.send_signal(signal.SIGKILL)
        torchrun.wait(timeout=30)
        assert wait_until_dead(ranks, timeout=60) == [], "ranks outlived their torchrun"
    finally:
        kill_all(ranks)
    assert load_checkpoint(out / "checkpoint.pth")["step"] > 0
