"""test/launcher.sh and the ModelZoo summary, on a throwaway model package
whose train module is the tiny trainer."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = """#!/usr/bin/env bash
NETWORK=Tiny MODULE=tests.helpers.tiny_train RANK_SIZE={rank_size} MODE={mode} BATCH_SIZE=8
TRAIN_ARGS=(--epochs 2 --tensorboard false --workers 0)
DEMO_ARGS=()
source "{repo}/test/launcher.sh"
"""

SUMMARY_KEYS = [
    "Network",
    "RankSize",
    "BatchSize",
    "DeviceType",
    "CaseName",
    "ActualFPS",
    "TrainingTime",
    "TrainAccuracy",
    "ActualLoss",
    "E2ETrainingTime",
]


@pytest.fixture
def fake_model(tmp_path):
    model_dir = tmp_path / "tiny"
    (model_dir / "test").mkdir(parents=True)
    for name, rank_size, mode in [("train_full_1p.sh", 1, "acc"), ("train_performance_8p.sh", 8, "perf")]:
        (model_dir / "test" / name).write_text(SCRIPT.format(rank_size=rank_size, mode=mode, repo=REPO_ROOT))
    (tmp_path / "data").mkdir()
    return model_dir


def launch(model_dir, script, *args, cwd=None):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    env.pop("ASCEND_DEVICE_ID", None)
    return subprocess.run(
        ["bash", str(model_dir / "test" / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def read_summary(path):
    return dict(line.split(" = ", 1) for line in path.read_text().splitlines())


def test_full_1p_writes_the_modelzoo_summary(fake_model):
    result = launch(fake_model, "train_full_1p.sh", f"--data_path={fake_model.parent / 'data'}", "--lr=0.01")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    for prefix in (
        "Final Performance images/sec : ",
        "Final Train Accuracy : ",
        "E2E Training Duration sec : ",
    ):
        assert any(line.startswith(prefix) for line in lines), prefix
    case_dir = fake_model / "test" / "output" / "0"
    summary = read_summary(case_dir / "Tiny_bs8_1p_acc.log")
    assert list(summary)[: len(SUMMARY_KEYS)] == SUMMARY_KEYS
    assert summary["CaseName"] == "Tiny_bs8_1p_acc" and summary["DeviceType"] == "cpu"
    fps = float(summary["ActualFPS"])
    # TrainingTime is written with two decimals: compare to that rounding.
    assert fps > 0 and float(summary["TrainingTime"]) == pytest.approx(8 * 1000 / fps, rel=1e-2, abs=0.006)
    losses = (case_dir / "train_Tiny_bs8_1p_acc_loss.txt").read_text().splitlines()
    assert len(losses) == 2 * 64 // 8
    log = (case_dir / "train_0.log").read_text()
    assert "--lr 0.01" in log and "Final Train Accuracy" in log


def test_8p_script_runs_as_gloo_processes_with_nproc_override(fake_model):
    result = launch(
        fake_model, "train_performance_8p.sh", f"--data_path={fake_model.parent / 'data'}", "--nproc=2"
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = read_summary(fake_model / "test" / "output" / "0" / "Tiny_bs16_2p_perf.log")
    assert summary["RankSize"] == "2" and summary["BatchSize"] == "16"


def test_missing_data_path_is_named(fake_model):
    result = launch(fake_model, "train_full_1p.sh", "--data_path=/no/such/place")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --data_path=/no/such/place is not a directory"


def test_failed_training_reports_no_summary(fake_model):
    result = launch(
        fake_model, "train_full_1p.sh", f"--data_path={fake_model.parent / 'data'}", "--device=cuda"
    )
    assert result.returncode == 2
    assert "Final Performance" not in result.stdout
    assert "no cuda device" in (fake_model / "test" / "output" / "0" / "train_0.log").read_text()


def test_two_nodes_train_as_one_job_and_node_0_writes_the_summary(fake_model):
    """Two launchers on this machine stand for two nodes of one process each (the run folder is
    shared, as multi-node runs need): one job of 2 processes; node 1 ends well without a summary."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    nodes = []
    for node in (0, 1):
        args = [
            f"--data_path={fake_model.parent / 'data'}",
            "--nproc=1",
            "--nnodes=2",
            f"--node_rank={node}",
            "--master_addr=127.0.0.1",
            f"--master_port={port}",
        ]
        nodes.append(
            subprocess.Popen(
                ["bash", str(fake_model / "test" / "train_performance_8p.sh"), *args],
                env={**env, "ASCEND_DEVICE_ID": str(node)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [process.communicate(timeout=240)[0] for process in nodes]
    assert [process.returncode for process in nodes] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert "node 1 done; the summary is written on node 0" in outputs[1]
    assert "Final Performance images/sec" in outputs[0] and "Final Performance" not in outputs[1]
    summary = read_summary(fake_model / "test" / "output" / "0" / "Tiny_bs16_2p_perf.log")
    assert summary["RankSize"] == "2"


@pytest.mark.parametrize("package", ["ascend-toolkit", "nnae"])
def test_env_npu_finds_cann_from_its_install_record(tmp_path, package):
    """/etc/Ascend/ascend_cann_install.info records the parent folder (Install_Path=/usr/local/Ascend);
    set_env.sh is in its ascend-toolkit/ (or, runtime only, nnae/) folder."""
    root = tmp_path / "Ascend"
    (root / package).mkdir(parents=True)
    (root / package / "set_env.sh").write_text("export CANN_MARKER=found\n")
    info = tmp_path / "ascend_cann_install.info"
    info.write_text(f"Install_Path={root}\n")
    script = f"source {REPO_ROOT / 'test' / 'env_npu.sh'}; echo $CANN_MARKER $TASK_QUEUE_ENABLE"
    result = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "ASCEND_CANN_INSTALL_INFO": str(info)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.split() == ["found", "1"], result.stderr
    info.write_text(f"Install_Path={tmp_path / 'elsewhere'}\n")
    result = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "ASCEND_CANN_INSTALL_INFO": str(info)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "the Ascend environment is not set" in result.stderr or Path("/usr/local/Ascend").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_killed_launcher_leaves_no_process_behind(fake_model):
    """SIGKILL of the 8p script: torchrun and both ranks end (they stop as a signalled run does)."""
    from tests.helpers.processes import descendants, kill_all, wait_until_dead
    from tests.reliability.test_faults import wait_for_line

    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    env.pop("ASCEND_DEVICE_ID", None)
    launcher = subprocess.Popen(
        [
            "bash",
            str(fake_model / "test" / "train_performance_8p.sh"),
            f"--data_path={fake_model.parent / 'data'}",
            "--nproc=2",
            "--epochs=500",
            "--step_seconds=0.05",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = []
    try:
        wait_for_line(launcher, "training started", timeout=120)
        started = descendants(launcher.pid)
        assert len(started) >= 4  # tee, torchrun, two ranks
        launcher.kill()
        launcher.wait(timeout=30)
        assert wait_until_dead(started, timeout=60) == [], "processes outlived their launcher"
    finally:
        kill_all(started)


def test_flags_are_checked_before_the_last_summary_is_cleared(fake_model):
    """A mistyped flag, or a run the folder refuses, ends with exit 2 before anything is
    cleared: the last good summary and result.json stay."""
    data = f"--data_path={fake_model.parent / 'data'}"
    assert launch(fake_model, "train_full_1p.sh", data).returncode == 0
    kept = [
        fake_model / "test" / "output" / "0" / "Tiny_bs8_1p_acc.log",
        fake_model / "test" / "output" / "0" / "train_0.log",
        fake_model / "runs" / "Tiny_bs8_1p_acc" / "result.json",
    ]
    before = [path.read_text() for path in kept]
    bogus = launch(fake_model, "train_full_1p.sh", data, "--bogus=1")
    assert bogus.returncode == 2 and "unrecognized arguments: --bogus 1" in bogus.stderr
    refused = launch(fake_model, "train_full_1p.sh", data)  # the folder holds the first run
    assert refused.returncode == 2 and "holds a run" in refused.stderr
    missing = fake_model.parent / "none" / "checkpoint.pth"  # a typo: found when the run started
    other = launch(
        fake_model, "train_full_1p.sh", data, f"--output_dir={fake_model.parent / 'b'}", f"--resume={missing}"
    )
    assert other.returncode == 2 and f"error: --resume {missing}: no such checkpoint file" in other.stderr
    assert [path.read_text() for path in kept] == before
    resumed = launch(fake_model, "train_full_1p.sh", data, "--resume=auto", "--epochs=3")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # A relative --resume means the file seen from where the user stands (the run itself starts
    # in the model folder, where this path names nothing).
    relative = f"--resume={fake_model.name}/runs/Tiny_bs8_1p_acc/checkpoint.pth"
    other_folder = f"--output_dir={fake_model.parent / 'c'}"
    moved_on = launch(
        fake_model, "train_full_1p.sh", data, other_folder, relative, "--epochs=4", cwd=fake_model.parent
    )
    assert moved_on.returncode == 0, moved_on.stderr[-2000:]


@pytest.mark.parametrize("flag", ["--nproc=0", "--nnodes=0"])
def test_zero_processes_or_nodes_are_refused(fake_model, flag):
    result = launch(fake_model, "train_performance_8p.sh", f"--data_path={fake_model.parent / 'data'}", flag)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {flag}: expected a whole number >= 1"


def test_the_scripts_use_the_repositorys_venv_or_say_what_to_activate(fake_model, tmp_path):
    """Without PYTHON, a fresh shell's python3 from PATH lacks the packages (ModuleNotFoundError
    traceback): the scripts take REPO/.venv when it is there; an interpreter without the
    packages gets one line saying what to do."""
    data = f"--data_path={fake_model.parent / 'data'}"
    bare = tmp_path / "bare_python"
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')  # -S: no site-packages
    bare.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHON", "ASCEND_DEVICE_ID")}
    result = subprocess.run(
        ["bash", str(fake_model / "test" / "train_full_1p.sh"), data],
        env={**env, "PYTHON": str(bare)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bare} lacks torch numpy cv2 av loguru: run 'make setup' in {REPO_ROOT} (it makes .venv, "
        "which the scripts use), activate the environment that has requirements.txt, or set "
        "PYTHON=/path/to/python"
    ]
    if not (REPO_ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv in this checkout")
    path = f"{tmp_path}:/usr/bin:/bin"  # bare_python is no python3; /usr/bin's has no packages
    (tmp_path / "python3").symlink_to(bare)
    result = subprocess.run(
        ["bash", str(fake_model / "test" / "train_full_1p.sh"), data],
        env={**env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"command: {REPO_ROOT / '.venv' / 'bin' / 'python'} -m tests.helpers.tiny_train" in result.stdout


def test_resuming_a_finished_run_keeps_its_summary(fake_model):
    """Nothing left to train: the summary is the run's (it was ActualFPS = 0.000, TrainingTime =
    nan), and the log says why nothing ran."""
    data = f"--data_path={fake_model.parent / 'data'}"
    first = launch(fake_model, "train_full_1p.sh", data)
    assert first.returncode == 0, first.stderr[-2000:]
    summary = fake_model / "test" / "output" / "0" / "Tiny_bs8_1p_acc.log"
    before = read_summary(summary)
    again = launch(fake_model, "train_full_1p.sh", data, "--resume=auto")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "nothing left to train: it is at step 16, the end of epoch 2" in again.stdout
    after = read_summary(summary)
    assert {key: after[key] for key in ("ActualFPS", "TrainingTime", "TrainAccuracy")} == {
        key: before[key] for key in ("ActualFPS", "TrainingTime", "TrainAccuracy")
    }
    assert float(after["ActualFPS"]) > 0
