"""common.allocator: a CPU training process keeps the memory it frees."""

import platform
import sys

import pytest
import torch

from common.allocator import setup_host_allocator
from tests.conftest import run_python

# Allocates and frees 256 MiB, then prints how much of it is still resident.
PROBE = """
import sys, torch
from common.allocator import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def resident_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
before = resident_mib()
block = torch.ones(64 * 2**20)  # 256 MiB, written so every page is resident
del block
print(resident_mib() - before)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)
def test_freed_memory_stays_in_the_process_only_when_asked():
    kept = {}
    for mode in ("keep", "default"):
        result = run_python("-c", PROBE, mode)
        assert result.returncode == 0, result.stderr[-2000:]
        kept[mode] = float(result.stdout.split()[-1])
    assert kept["keep"] > 200  # the next step reuses these pages instead of faulting them in again
    assert kept["default"] < 50  # glibc unmapped the block on free


def test_only_cpu_training_processes_change_the_allocator(monkeypatch):
    calls = []
    monkeypatch.setattr("common.allocator.keep_freed_memory", lambda: calls.append(1) or True)
    assert not setup_host_allocator(torch.device("meta"))
    assert calls == []
    assert setup_host_allocator(torch.device("cpu"))
    assert calls == [1]
