"""GOTURN through the VOT toolkit (vot-toolkit 0.9.0, TraX): the toolkit's own tracker check on
its synthetic sequence, and an evaluation on a workspace written from demo sequences."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from goturn.data import demo
from goturn.model import GoturnNet
from goturn.tracking.sequences import read_alov
from goturn.tracking.vot_workspace import TRACKER, write_workspace

pytest.importorskip("trax", reason="vot-trax (the TraX bindings) not installed")
pytest.importorskip("vot", reason="vot-toolkit not installed")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vot") / "checkpoint.pth"
    torch.save({"model": GoturnNet("caffenet-tiny").state_dict()}, path)
    return path


def vot(workspace: Path, *command: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "vot", *command], cwd=workspace, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_the_toolkit_checks_the_trax_tracker_on_its_synthetic_sequence(checkpoint, tmp_path):
    repository = Path(__file__).resolve().parents[2]
    (tmp_path / "trackers.ini").write_text(
        TRACKER.format(repository=repository, checkpoint=checkpoint, device="cpu")
    )
    result = vot(tmp_path, "test", "GOTURN")
    log = result.stdout + result.stderr
    assert "Test concluded successfuly" in log  # (sic) the toolkit's words
    assert "@@TRAX:state" in log and "confidence=" in log


def test_a_vot_evaluation_on_a_workspace_of_demo_sequences(checkpoint, tmp_path):
    data = demo.generate(tmp_path / "demo", videos_per_category=2, frames=16, det_images_per_folder=2)
    sequences = read_alov(data / "ALOV", "val", 0.005)[:2]
    workspace = tmp_path / "workspace"
    names = write_workspace(workspace, sequences, checkpoint, "demo")
    assert names == [s.name for s in sequences]
    assert (workspace / "sequences" / names[0] / "color" / "00000001.jpg").resolve() == Path(
        sequences[0].frames[0]
    ).resolve()
    vot(workspace, "evaluate", "GOTURN")
    for name in names:
        assert (workspace / "results" / "GOTURN" / "unsupervised" / name / f"{name}_001.bin").is_file()
    vot(workspace, "analysis", "GOTURN", "--format", "json")
    (report,) = (workspace / "analysis").glob("*.json")
    accuracy = json.loads(report.read_text())["results"]["unsupervised"]["results"][0][0][0]
    assert 0.0 < accuracy <= 1.0
