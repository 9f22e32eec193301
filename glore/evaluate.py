"""Kept for existing scripts and habits: the command is now `python -m glore.inference.evaluate`."""

import runpy

if __name__ == "__main__":
    runpy.run_module("glore.inference.evaluate", run_name="__main__", alter_sys=True)
