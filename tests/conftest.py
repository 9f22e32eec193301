import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_python(*args, env=None, timeout=240, cwd=REPO_ROOT):
    """Run ``python args...`` with the repo on PYTHONPATH; returns the
    CompletedProcess (check the return code yourself)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
