"""The console commands ``pip install`` gives (pyproject.toml, [project.scripts]): each runs its
module exactly as ``python -m`` does, flags, messages and exit status included."""

import runpy


def _run_as_main(module: str) -> None:
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def train() -> None:
    _run_as_main("glore.train")


def evaluate() -> None:
    _run_as_main("glore.inference.evaluate")


def predict() -> None:
    _run_as_main("glore.inference.predict")


def prepare() -> None:
    _run_as_main("glore.data.prepare")


def export() -> None:
    _run_as_main("glore.export")
