"""Run goturn.train or glore.train with faults injected from outside the
model code, for the reliability tests:

    FAULT_STEP_DELAY=0.3 FAULT_BAD_LOSS_AT=3 FAULT_BAD_LOSS=nan \\
        python -m tests.helpers.fault_run goturn --data_path ... (train.py's flags)

- FAULT_STEP_DELAY (seconds): sleep before each step's loss is recorded, so a
  test that waits for step k's log line can signal the process before step
  k + 1 ends (the tiny runs are otherwise faster than a signal's round trip);
- FAULT_BAD_LOSS_AT (1-based training step) and FAULT_BAD_LOSS (nan or inf):
  the loss of that step is multiplied by the value, as a diverging model or a
  poisoned batch would make it.

Everything else is the real entry point, error handling included (run_cli).
"""

import os
import sys
import time

import torch

from common.errors import run_cli
from common.steps import LossFile


def slow_down_steps(delay: float) -> None:
    append = LossFile.append

    def delayed(self, step, value):
        time.sleep(delay)
        append(self, step, value)

    LossFile.append = delayed


def corrupt_loss_at(step: int, factor: float):
    """A function that multiplies the loss of training step ``step`` by ``factor``."""
    calls = 0

    def corrupt(loss: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return loss * factor if calls == step else loss

    return corrupt


def main() -> int:
    model, argv = sys.argv[1], sys.argv[2:]
    if model == "goturn":
        from goturn import train
    elif model == "glore":
        from glore import train
    else:
        raise SystemExit(f"usage: python -m tests.helpers.fault_run goturn|glore TRAIN_ARGS (got {model!r})")
    delay = float(os.environ.get("FAULT_STEP_DELAY", "0"))
    if delay:
        slow_down_steps(delay)
    bad_step = int(os.environ.get("FAULT_BAD_LOSS_AT", "0"))
    if bad_step:
        corrupt = corrupt_loss_at(bad_step, float(os.environ.get("FAULT_BAD_LOSS", "nan")))
        if model == "goturn":
            # Training's only loss call when --val_batches 0.
            l1_sum = train.l1_sum
            train.l1_sum = lambda prediction, label: corrupt(l1_sum(prediction, label))
        else:
            # glore.train's criterion; validation computes its loss elsewhere.
            forward = torch.nn.CrossEntropyLoss.forward
            torch.nn.CrossEntropyLoss.forward = lambda self, logits, labels: corrupt(
                forward(self, logits, labels)
            )
    return run_cli(train.main, train.get_args_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
