"""Keep the memory a CPU training step frees, for the next step.

glibc serves every allocation above its mmap threshold (at most 32 MiB) with
a fresh mapping and unmaps it on free, and trims the heap whenever its free
top passes 128 KiB. A training step on the CPU allocates its activations and
gradients anew every step, so each step page-faults hundreds of MiB back in
(GOTURN: ~150,000 faults per step; GloRe R50: ~850,000). Telling glibc never
to mmap and never to trim keeps those pages in the process: the next step
reuses them. Measured on the 2-core machine (bench.steps, medians of 3 steps,
two interleaved runs each): GOTURN fp32 56-74 -> 93-100 examples/s, bf16
76-83 -> 143-148; GloRe R50 fp32 1.01 -> 1.10-1.24 clips/s, bf16 unchanged.

The cost: the process keeps its high-water mark of memory until it exits,
and that mark is higher: a freed block can be split by smaller allocations
before the next step asks for it whole. GOTURN's demo run peaks at about
2.1 GB instead of 1.9, and in about half the runs once more at 2.4 (one more
300 MB fc6-sized block, around step 8-10); from then on it stays flat
(bench.memory measures the growth per step). Applied on the
CPU only, where it was measured; an accelerator's activations live in its
own allocator.
"""

import ctypes

import torch

# mallopt parameter numbers from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
NEVER_TRIM = 2**31 - 1


def set_malloc_options(options: dict[int, int]) -> bool:
    """``mallopt(option, value)`` for each item, in order. False where the C
    library has no ``mallopt`` (musl, macOS: nothing changed) or glibc
    refused a value."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded in this process
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return all([bool(mallopt(option, value)) for option, value in options.items()])


def keep_freed_memory() -> bool:
    """Stop glibc from returning freed memory to the kernel: no mmap for any
    size, no trimming. Returns whether it took effect."""
    return set_malloc_options({M_MMAP_MAX: 0, M_TRIM_THRESHOLD: NEVER_TRIM})


def setup_host_allocator(device: torch.device) -> bool:
    """What a training process on ``device`` should do: keep freed memory
    when the steps run on the CPU. Returns whether it did."""
    return device.type == "cpu" and keep_freed_memory()
