"""The console commands ``pip install`` gives (pyproject.toml, [project.scripts]): each runs its
module exactly as ``python -m`` does, flags, messages and exit status included."""

import runpy


def _run_as_main(module: str) -> None:
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def train() -> None:
    _run_as_main("goturn.train")


def track() -> None:
    _run_as_main("goturn.tracking.track")


def evaluate() -> None:
    _run_as_main("goturn.tracking.evaluate")


def export() -> None:
    _run_as_main("goturn.export")


def vot() -> None:
    _run_as_main("goturn.vot")


def vot_workspace() -> None:
    _run_as_main("goturn.tracking.vot_workspace")
