"""Kept for existing scripts and habits: the command is now `python -m glore.inference.splits`."""

import runpy

if __name__ == "__main__":
    runpy.run_module("glore.inference.splits", run_name="__main__", alter_sys=True)
