"""One --seed drives every random stream: Python, NumPy, torch, each rank and
each data-loader worker.

Data pipelines draw their randomness from ``derive_seed(seed, epoch, index)``
rather than from a worker's global state, so a sample is the same whichever
worker makes it and however many workers there are, and a resumed run sees the
same data as an uninterrupted one.
"""

import hashlib
import random
import struct

import numpy as np
import torch


def derive_seed(*parts: int) -> int:
    """A stable 63-bit seed from integers (unlike hash(), equal across runs)."""
    digest = hashlib.blake2b(struct.pack(f"<{len(parts)}q", *parts), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed the global generators; each rank gets its own stream."""
    process_seed = derive_seed(seed, rank)
    random.seed(process_seed)
    np.random.seed(process_seed % 2**32)
    torch.manual_seed(process_seed)


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: give each worker distinct global streams.

    torch already seeds each worker's torch generator from the loader's
    generator; Python's and NumPy's are derived from it here.
    """
    worker_seed = torch.initial_seed() % 2**32
    random.seed(worker_seed)
    np.random.seed(worker_seed)


def rng_state() -> dict:
    """The global generators' state, made only of checkpoint-safe types."""
    version, python_state, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state = {
        "python": [version, list(python_state), gauss],
        "numpy": {
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    accelerator = _started_accelerator()
    if accelerator is not None:
        # This process's device only: get_rng_state_all() would start a context on every
        # visible GPU from every rank, and could not be restored where fewer are visible.
        state["device"] = {
            "type": accelerator.__name__.rsplit(".", 1)[-1],
            "state": accelerator.get_rng_state(),
        }
    return state


def _started_accelerator():
    """torch.cuda or torch.npu when this process has started using it, else None."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda
    npu = getattr(torch, "npu", None)  # registered by torch_npu, imported only where present
    if npu is not None and npu.is_available() and getattr(npu, "is_initialized", lambda: True)():
        return npu
    return None


def set_rng_state(state: dict) -> None:
    version, python_state, gauss = state["python"]
    random.setstate((version, tuple(python_state), gauss))
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    accelerator = _started_accelerator()
    saved = state.get("device")
    if accelerator is not None and saved and saved["type"] == accelerator.__name__.rsplit(".", 1)[-1]:
        accelerator.set_rng_state(saved["state"])
