"""Kept for existing scripts and habits: the command is now `python -m glore.inference.predict`."""

import runpy

if __name__ == "__main__":
    runpy.run_module("glore.inference.predict", run_name="__main__", alter_sys=True)
