"""The Global Reasoning unit: project features onto a graph, reason over it, project back."""

import torch
from torch import nn


class GraphConv(nn.Module):
    """One graph convolution over a fully connected graph whose adjacency is learned.

    `conv1` mixes nodes (the learned adjacency A), the identity term adds I, and `conv2` mixes
    the state channels: out = W · relu((A + I) V).
    """

    def __init__(self, num_state: int, num_node: int):
        super().__init__()
        self.conv1 = nn.Conv1d(num_node, num_node, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv1d(num_state, num_state, kernel_size=1, bias=False)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        # v: (n, state, node); conv1 acts on the node axis, so it sees (n, node, state).
        h = self.conv1(v.transpose(1, 2)).transpose(1, 2) + v
        return self.conv2(self.relu(h))


class GloReUnit(nn.Module):
    """GloRe unit for 3D feature maps: x + blocker(conv_extend(reproject(gcn(project(x))))).

    State channels S = 2·num_mid, graph nodes N = num_mid. As in the reference the projection is
    not divided by the number of positions L, and the blocker BN's gamma starts at zero so a new
    unit is the identity (see `init_weights` in glore.model).
    """

    def __init__(self, num_in: int, num_mid: int):
        super().__init__()
        self.num_state = 2 * num_mid
        self.num_node = num_mid
        self.conv_state = nn.Conv3d(num_in, self.num_state, kernel_size=1)
        self.conv_proj = nn.Conv3d(num_in, self.num_node, kernel_size=1)
        self.gcn = GraphConv(self.num_state, self.num_node)
        self.conv_extend = nn.Conv3d(self.num_state, num_in, kernel_size=1, bias=False)
        self.blocker = nn.BatchNorm3d(num_in, eps=1e-4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float16:
            return x + self.reason(x)
        # Under fp16 autocast the reasoning runs in fp32: the projection sums over all L positions
        # (hundreds at 224x224) and its values pass fp16's 65504 (inf, then NaN through the BN) in
        # every unit of a randomly initialised R50; bf16 has fp32's range and stays in autocast.
        with torch.autocast(x.device.type, enabled=False):
            return x + self.reason(x.float()).to(x.dtype)

    def reason(self, x: torch.Tensor) -> torch.Tensor:
        """The unit's contribution, added to its input: blocker(conv_extend(reproject(gcn(project(x)))))."""
        n = x.shape[0]
        state = self.conv_state(x).reshape(n, self.num_state, -1)  # (n, S, L)
        proj = self.conv_proj(x).reshape(n, self.num_node, -1)  # (n, N, L)
        nodes = torch.bmm(state, proj.transpose(1, 2))  # (n, S, N): coordinate -> interaction space
        nodes = self.gcn(nodes)
        y = torch.bmm(nodes, proj)  # (n, S, L): back to coordinate space with the same projection
        y = y.reshape(n, self.num_state, *x.shape[2:])
        return self.blocker(self.conv_extend(y))
