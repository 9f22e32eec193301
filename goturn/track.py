"""Kept for existing scripts and habits: the command is now `python -m goturn.tracking.track`."""

import runpy

if __name__ == "__main__":
    runpy.run_module("goturn.tracking.track", run_name="__main__", alter_sys=True)
