"""Small conv nets for :class:`SGSConvClassifier`, and an ACB-style branched conv.

Every network takes ``in_channels`` and ``n_classes`` and ends in global average
pooling, so it accepts any image size (down to 1x1).
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ACBConv2d", "SmallResNet", "SmallVGG", "merge_branches"]

_BRANCH_KERNELS = {
    "square": (3, 3),
    "horizontal": (1, 3),
    "vertical": (3, 1),
    "center": (1, 1),
}


class ACBConv2d(nn.Module):
    """A 3x3 conv trained as a sum of branches (ACB, asymmetric convolution block).

    ``y = sum_b alpha_b * BN_b(conv_b(x))`` over a 3x3, a 1x3 and a 3x1 branch
    (BN only when ``bn=True``). Without BN the block is linear in its weights and
    :meth:`merged` returns the single equivalent 3x3 conv.

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int, default=1
    branches : sequence of str, default=("square", "horizontal", "vertical")
    alphas : sequence of float, default=None
        Fixed branch coefficients (ones when None).
    bn : bool, default=True
        A BatchNorm inside each branch (ACB/DBB style; breaks the SGS equivalence).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        stride=1,
        branches=("square", "horizontal", "vertical"),
        alphas=None,
        bn=True,
    ):
        super().__init__()
        self.branches = tuple(branches)
        self.alphas = tuple(alphas) if alphas is not None else (1.0,) * len(branches)
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        for name in self.branches:
            kh, kw = _BRANCH_KERNELS[name]
            self.convs.append(
                nn.Conv2d(
                    in_channels,
                    out_channels,
                    (kh, kw),
                    stride=stride,
                    padding=(kh // 2, kw // 2),
                    bias=False,
                )
            )
            self.bns.append(nn.BatchNorm2d(out_channels) if bn else nn.Identity())

    def forward(self, x):
        return sum(
            a * bn(conv(x)) for a, conv, bn in zip(self.alphas, self.convs, self.bns)
        )

    def merged(self):
        """The plain 3x3 conv with the merged kernel ``sum_b alpha_b * pad(W_b)``."""
        if any(not isinstance(bn, nn.Identity) for bn in self.bns):
            raise ValueError("Only branches without BatchNorm merge exactly.")
        first = self.convs[0]
        conv = nn.Conv2d(
            first.in_channels,
            first.out_channels,
            3,
            stride=first.stride,
            padding=1,
            bias=False,
        )
        weight = torch.zeros_like(conv.weight)
        for a, branch in zip(self.alphas, self.convs):
            kh, kw = branch.kernel_size
            pad = ((3 - kw) // 2, (3 - kw) // 2, (3 - kh) // 2, (3 - kh) // 2)
            weight += a * F.pad(branch.weight.detach(), pad)
        with torch.no_grad():
            conv.weight.copy_(weight)
        return conv


def merge_branches(module):
    """A copy of ``module`` with every BN-free :class:`ACBConv2d` merged into a conv."""
    module = copy.deepcopy(module)
    for name, child in list(module.named_children()):
        if isinstance(child, ACBConv2d):
            setattr(module, name, child.merged())
        else:
            setattr(module, name, merge_branches(child))
    return module


def _conv3x3(in_channels, out_channels, stride, branch_kw):
    if branch_kw["branches"]:
        return ACBConv2d(
            in_channels,
            out_channels,
            stride,
            branch_kw["branches"],
            alphas=branch_kw["branch_alphas"],
            bn=branch_kw["branch_bn"],
        )
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class SmallVGG(nn.Module):
    """VGG-like net: per stage, ``convs_per_stage`` x [conv3x3-BN-ReLU] then max-pool.

    Parameters
    ----------
    in_channels : int
    n_classes : int
    widths : sequence of int, default=(16, 32)
        Channels per stage.
    convs_per_stage : int, default=2
    branches : sequence of str, default=None
        Train every 3x3 conv as an :class:`ACBConv2d` with these branches.
    branch_alphas : sequence of float, default=None
        Fixed branch coefficients (ones when None).
    branch_bn : bool, default=True
        BatchNorm inside each branch.
    """

    def __init__(
        self,
        in_channels,
        n_classes,
        widths=(16, 32),
        convs_per_stage=2,
        branches=None,
        branch_alphas=None,
        branch_bn=True,
    ):
        super().__init__()
        branch_kw = dict(
            branches=branches, branch_alphas=branch_alphas, branch_bn=branch_bn
        )
        layers, c = [], in_channels
        for width in widths:
            for _ in range(convs_per_stage):
                layers += [
                    _conv3x3(c, width, 1, branch_kw),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ]
                c = width
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes)
        )

    def forward(self, x):
        return self.head(self.features(x))


class _BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride, branch_kw):
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride, branch_kw)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = _conv3x3(out_channels, out_channels, 1, branch_kw)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """ResNet-like net: a 3x3 stem, then ``blocks_per_stage`` basic blocks per stage
    (stride 2 from the second stage), 1x1 projection shortcuts.

    Parameters
    ----------
    in_channels : int
    n_classes : int
    widths : sequence of int, default=(16, 32)
    blocks_per_stage : int, default=1
    branches, branch_alphas, branch_bn
        As for :class:`SmallVGG`.
    """

    def __init__(
        self,
        in_channels,
        n_classes,
        widths=(16, 32),
        blocks_per_stage=1,
        branches=None,
        branch_alphas=None,
        branch_bn=True,
    ):
        super().__init__()
        branch_kw = dict(
            branches=branches, branch_alphas=branch_alphas, branch_bn=branch_bn
        )
        c = widths[0]
        self.stem = nn.Sequential(
            _conv3x3(in_channels, c, 1, branch_kw),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        )
        blocks = []
        for i, width in enumerate(widths):
            for j in range(blocks_per_stage):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(_BasicBlock(c, width, stride, branch_kw))
                c = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes)
        )

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))
