"""pyproject.toml: the wheel builds, holds the three packages, and every console command it
installs answers --help from outside the repository (each is its python -m module)."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

COMMANDS = {
    "goturn-train": "Train GOTURN",
    "goturn-track": "Track an object",
    "goturn-evaluate": "Evaluate a GOTURN checkpoint",
    "goturn-export": "Export a GOTURN checkpoint to ONNX",
    "goturn-vot": "GOTURN as a VOT toolkit (TraX) tracker",
    "goturn-vot-workspace": "Write a VOT toolkit workspace",
    "glore-train": "Fine-tune GloRe",
    "glore-evaluate": "GloRe evaluation",
    "glore-predict": "Top-k classes",
    "glore-prepare": "Prepare UCF-101",
    "glore-export": "Export a GloRe checkpoint to ONNX",
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from the checkout, installed (without its dependencies, which this
    environment has) under a prefix of its own."""
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = work / "source"
    skip = shutil.ignore_patterns(".*", "dataset", "runs", "output", "build", "*.egg-info", "__pycache__")
    shutil.copytree(REPO_ROOT, source, ignore=skip)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work)]
    subprocess.run([*build, str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = work.glob("goturn_glore_zoo-*.whl")
    prefix = work / "prefix"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--prefix", str(prefix), str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    purelib = sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)})
    return prefix, Path(purelib)


def test_the_wheel_holds_the_three_packages(installed):
    _, site = installed
    for package in ("common", "goturn", "glore", "goturn/tracking", "glore/inference", "glore/data"):
        assert (site / package / "__init__.py").is_file(), package
    assert not (site / "tests").exists() and not (site / "bench").exists()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = [sys.executable, "-c", "import goturn, glore, common; print(goturn.__file__, glore.__file__)"]
    imported = subprocess.run(where, cwd=site.parent, env=env, capture_output=True, text=True, check=True)
    assert all(Path(path).is_relative_to(site) for path in imported.stdout.split())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_answers_help_outside_the_repository(installed, command, tmp_path):
    prefix, site = installed
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(prefix / "bin" / command), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage: ") and COMMANDS[command] in " ".join(result.stdout.split())
