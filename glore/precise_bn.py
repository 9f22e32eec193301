"""Precise BN: re-estimate BatchNorm statistics on training clips before evaluation.

During training, running statistics are a moving average over weights that kept changing;
recomputing them with the final weights (a true average over N batches, then averaged over
ranks) usually gives a small, free accuracy gain, most with small per-device batches.
"""

import torch
from torch import nn

from common import distributed


@torch.no_grad()
def update_bn_stats(model: nn.Module, batches, to_input) -> int:
    """Recompute the running mean/var of every BN of `model` from `batches` (an iterable of
    batches, each made into the model's input by `to_input`); returns the number of batches used. Only the BN
    layers run in training mode, so dropout draws no random numbers."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    was_training = model.training
    momenta = [bn.momentum for bn in norms]
    model.eval()
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches below
        bn.train()
    count = 0
    for clips in batches:
        model(to_input(clips))
        count += 1
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum
        if distributed.is_initialized():
            for buffer in (bn.running_mean, bn.running_var):
                distributed.all_reduce_sum(buffer)
                buffer /= torch.distributed.get_world_size()
    model.train(was_training)
    return count
