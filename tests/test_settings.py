"""Where the README's `python -m` commands run: from the repository root, or anywhere after
`source settings.sh` (bash; plain sh from the root only, refused in one line elsewhere instead
of putting the current folder on PYTHONPATH)."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

PYTHON_BIN = os.path.dirname(sys.executable)


def shell(shell_name, script, cwd):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PATH"] = f"{PYTHON_BIN}:{env['PATH']}"
    return subprocess.run(
        [shell_name, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "model, command",
    [("goturn", "goturn.tracking.track --help"), ("glore", "glore.inference.predict --help")],
)
def test_the_readme_commands_run_from_a_model_folder_after_settings(model, command):
    folder = REPO_ROOT / model
    assert shell("bash", f"python -m {command}", folder).returncode != 0  # why the READMEs say where
    result = shell("bash", f"source ../settings.sh && python -m {command}", folder)
    assert result.returncode == 0, result.stderr[-2000:]
    readme = (folder / "README.md").read_text()
    assert (
        "from the repository root, where their paths\nstart (or from any folder after `source settings.sh`"
        in readme
    )


def test_settings_under_sh(tmp_path):
    at_root = shell("sh", '. ./settings.sh && echo "$PYTHONPATH"', REPO_ROOT)
    assert at_root.returncode == 0 and at_root.stdout.strip() == str(REPO_ROOT)
    elsewhere = shell(
        "sh", f'. {REPO_ROOT / "settings.sh"}; echo "status $? PYTHONPATH=$PYTHONPATH"', tmp_path
    )
    assert elsewhere.stdout.strip() == "status 1 PYTHONPATH="
    assert elsewhere.stderr.strip().startswith(
        "error: settings.sh: this shell cannot tell where settings.sh is"
    )
