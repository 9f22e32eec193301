"""What a model's launch script sets up, read from
``<model>/test/train_full_1p.sh`` so the benchmark runs the model the way
``make demo`` and the ModelZoo scripts do: the ``DEMO_ARGS`` array and the
environment variables it and the shared launcher export (e.g.
``OMP_WAIT_POLICY``)."""

import os
import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "test" / "launcher.sh"
_EXPORT = re.compile(r"^export\s+(\w+)=(.*)$", re.MULTILINE)
_DEFAULTED = re.compile(r"^\$\{(\w+):-(.*)\}$")


def demo_script(model: str) -> Path:
    return REPO / model / "test" / "train_full_1p.sh"


def _script_text(model: str) -> str | None:
    script = demo_script(model)
    return script.read_text(encoding="utf-8") if script.exists() else None


def demo_args(model: str) -> list[str] | None:
    """The ``DEMO_ARGS=(...)`` array; None without the script or the array."""
    text = _script_text(model)
    found = re.search(r"^DEMO_ARGS=\((.*?)\)", text or "", re.DOTALL | re.MULTILINE)
    return shlex.split(found.group(1), comments=True) if found else None


def script_environment(model: str, environ=os.environ) -> dict[str, str]:
    """The variables the launcher (test/launcher.sh, sourced by every script)
    and then the script export, as ``export NAME=value`` or
    ``export NAME=${NAME:-value}`` (a value already set in ``environ`` wins
    in the second form, as in bash). Values computed from other shell
    variables (the launcher's PYTHONPATH, RANK_SIZE) are the launcher's
    business and are left out."""
    exported = {}
    launcher = LAUNCHER.read_text(encoding="utf-8") if LAUNCHER.exists() else ""
    for name, raw in _EXPORT.findall(launcher + "\n" + (_script_text(model) or "")):
        words = shlex.split(raw, comments=True)
        value = words[0] if words else ""
        defaulted = _DEFAULTED.match(value)
        if defaulted and defaulted.group(1) == name:
            value = environ.get(name, defaulted.group(2))
        elif "$" in value:
            continue
        exported[name] = value
    return exported
