"""Small CNN families of the micro NAS benchmark, as plain ``nn.Module`` builders.

A network is described by a JSON-able ``spec`` dict whose ``"family"`` key selects the
builder. Only the computation graph ever sees these networks: nothing downstream
uses a family-specific encoding.
"""

import json

import numpy as np
import torch
from torch import nn

FAMILIES = ("cell201", "mbconv", "resnet", "inception")
# NAS-Bench-201 edge order inside a cell: (0->1, 0->2, 0->3, 1->2, 1->3, 2->3)
CELL_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
CELL_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


class Zero(nn.Module):
    """The NAS-Bench-201 ``none`` operation: an all-zero output of the input's shape."""

    def forward(self, x):
        return x.mul(0.0)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel_size, stride=1):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


def _cell_op(name, channels):
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown cell op {name!r}; expected one of {CELL_OPS}")


class Cell201(nn.Module):
    """A NAS-Bench-201 cell: 4 nodes, node j sums op_ij(node i) over i < j."""

    def __init__(self, ops, channels):
        super().__init__()
        if len(ops) != len(CELL_EDGES):
            raise ValueError(f"a cell has {len(CELL_EDGES)} edge ops, got {len(ops)}")
        self.edges = nn.ModuleList(_cell_op(op, channels) for op in ops)

    def forward(self, x):
        nodes = [x]
        for j in range(1, 4):
            total = None
            for edge, (src, dst) in zip(self.edges, CELL_EDGES):
                if dst == j:
                    out = edge(nodes[src])
                    total = out if total is None else total + out
            nodes.append(total)
        return nodes[3]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's reduction: a stride-2 basic block with an avg-pool shortcut."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.pool = nn.AvgPool2d(2, stride=2)
        self.proj = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.proj(self.pool(x))


class Cell201Net(nn.Module):
    """NAS-Bench-201 macro skeleton: stem, 3 stages of cells, 2 reductions, GAP + FC."""

    def __init__(self, ops, in_channels=1, n_classes=10, stem=8, cells_per_stage=1):
        super().__init__()
        layers = [
            nn.Conv2d(in_channels, stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(stem),
        ]
        channels = stem
        for stage in range(3):
            if stage:
                layers.append(ResidualReduction(channels, 2 * channels))
                channels *= 2
            layers += [Cell201(ops, channels) for _ in range(cells_per_stage)]
        layers += [nn.BatchNorm2d(channels), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, n_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduction=4):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class MBConv(nn.Module):
    """MobileNetV3 inverted residual: expand 1x1, depthwise kxk, SE?, project 1x1."""

    def __init__(self, c_in, c_out, kernel, expansion, stride, se, act):
        super().__init__()
        hidden = c_in * expansion
        act_cls = nn.Hardswish if act == "hswish" else nn.ReLU
        layers = []
        if expansion != 1:
            layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden)]
            layers.append(act_cls())
        layers += [
            nn.Conv2d(
                hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False
            ),
            nn.BatchNorm2d(hidden),
            act_cls(),
        ]
        if se:
            layers.append(SqueezeExcite(hidden))
        layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        out = self.body(x)
        return x + out if self.residual else out


class MBConvNet(nn.Module):
    def __init__(self, stages, in_channels=1, n_classes=10, widths=(8, 8, 12, 16)):
        super().__init__()
        layers = [
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.Hardswish(),
        ]
        channels = widths[0]
        for i, stage in enumerate(stages):
            for j, (kernel, expansion) in enumerate(stage["blocks"]):
                stride = 2 if (j == 0 and i > 0) else 1
                layers.append(
                    MBConv(
                        channels,
                        widths[i + 1],
                        kernel,
                        expansion,
                        stride,
                        stage["se"],
                        stage["act"],
                    )
                )
                channels = widths[i + 1]
        layers += [
            nn.Conv2d(channels, 4 * channels, 1, bias=False),
            nn.BatchNorm2d(4 * channels),
            nn.Hardswish(),
        ]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * channels, n_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(width, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = _shortcut(c_in, c_out, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 2

    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.shortcut = _shortcut(c_in, c_out, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.shortcut(x))


def _shortcut(c_in, c_out, stride):
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
    )


class ResNet(nn.Module):
    def __init__(self, block, depths, width, in_channels=1, n_classes=10):
        super().__init__()
        block_cls = BasicBlock if block == "basic" else Bottleneck
        widths = [max(int(round(w * width)), 2) for w in (8, 16, 32)]
        layers = [
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        ]
        channels = widths[0]
        for i, (depth, stage_width) in enumerate(zip(depths, widths)):
            for j in range(depth):
                stride = 2 if (j == 0 and i > 0) else 1
                layers.append(block_cls(channels, stage_width, stride))
                channels = stage_width * block_cls.expansion
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


INCEPTION_PATHS = ("conv1x1", "conv3x3", "conv5x5", "conv1x1_3x3", "pool_conv1x1")


def _inception_path(name, c_in, c_out):
    def conv(ci, co, k):
        return [
            nn.Conv2d(ci, co, k, padding=k // 2, bias=False),
            nn.BatchNorm2d(co),
            nn.ReLU(),
        ]

    if name == "conv1x1":
        return nn.Sequential(*conv(c_in, c_out, 1))
    if name == "conv3x3":
        return nn.Sequential(*conv(c_in, c_out, 3))
    if name == "conv5x5":
        return nn.Sequential(*conv(c_in, c_out, 5))
    if name == "conv1x1_3x3":
        return nn.Sequential(*conv(c_in, c_out, 1), *conv(c_out, c_out, 3))
    if name == "pool_conv1x1":
        return nn.Sequential(nn.MaxPool2d(3, 1, 1), *conv(c_in, c_out, 1))
    raise ValueError(f"unknown inception path {name!r}; expected {INCEPTION_PATHS}")


class InceptionBlock(nn.Module):
    """Parallel paths concatenated along channels (Inception / Two-Path style)."""

    def __init__(self, paths, c_in, c_path):
        super().__init__()
        self.paths = nn.ModuleList(_inception_path(p, c_in, c_path) for p in paths)

    def forward(self, x):
        return torch.cat([path(x) for path in self.paths], dim=1)


class InceptionNet(nn.Module):
    def __init__(self, stages, in_channels=1, n_classes=10, path_width=(4, 8, 12)):
        super().__init__()
        layers = [
            nn.Conv2d(in_channels, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
        ]
        channels = 8
        for i, blocks in enumerate(stages):
            if i:
                layers.append(nn.MaxPool2d(2))
            for paths in blocks:
                layers.append(InceptionBlock(paths, channels, path_width[i]))
                channels = path_width[i] * len(paths)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def build_network(spec, in_channels=1, n_classes=10):
    """Build the ``nn.Module`` a micro NAS benchmark spec describes.

    Parameters
    ----------
    spec : dict
        A network spec as stored in :func:`load_digits_nas` (``"family"`` plus the
        family's choices), or a NAS-Bench-201 spec ``{"family": "nb201", "ops": [...],
        "stem": 16, "cells_per_stage": 5, "in_channels": 3}``.
    in_channels : int, default=1
        Input channels.
    n_classes : int, default=10
        Output classes.

    Returns
    -------
    module : torch.nn.Module
        A freshly initialised network.
    """
    if not isinstance(spec, dict) or "family" not in spec:
        raise ValueError(f"spec must be a dict with a 'family' key, got {spec!r}")
    family = spec["family"]
    in_channels = spec.get("in_channels", in_channels)
    if family in ("cell201", "nb201"):
        return Cell201Net(
            spec["ops"],
            in_channels,
            n_classes,
            spec.get("stem", 8),
            spec.get("cells_per_stage", 1),
        )
    if family == "mbconv":
        return MBConvNet(spec["stages"], in_channels, n_classes)
    if family == "resnet":
        return ResNet(
            spec["block"], spec["depths"], spec["width"], in_channels, n_classes
        )
    if family == "inception":
        return InceptionNet(spec["stages"], in_channels, n_classes)
    raise ValueError(
        f"unknown family {family!r}; expected one of {FAMILIES} or 'nb201'"
    )


def sample_spec(family, rng):
    """Draw one random spec of ``family`` with the numpy Generator ``rng``."""
    if family == "cell201":
        return {
            "family": family,
            "ops": [CELL_OPS[i] for i in rng.integers(0, len(CELL_OPS), 6)],
        }
    if family == "mbconv":
        stages = []
        for _ in range(3):
            depth = int(rng.integers(1, 4))
            blocks = [
                [int(rng.choice([3, 5, 7])), int(rng.choice([1, 3, 6]))]
                for _ in range(depth)
            ]
            stages.append(
                {
                    "blocks": blocks,
                    "se": bool(rng.integers(2)),
                    "act": str(rng.choice(["relu", "hswish"])),
                }
            )
        return {"family": family, "stages": stages}
    if family == "resnet":
        return {
            "family": family,
            "block": str(rng.choice(["basic", "bottleneck"])),
            "depths": [int(d) for d in rng.integers(1, 4, 3)],
            "width": float(rng.choice([0.5, 1.0, 1.5])),
        }
    if family == "inception":
        stages = []
        for _ in range(3):
            n_blocks = int(rng.integers(1, 3))
            stages.append(
                [
                    [
                        str(p)
                        for p in rng.choice(
                            INCEPTION_PATHS, int(rng.integers(2, 5)), replace=False
                        )
                    ]
                    for _ in range(n_blocks)
                ]
            )
        return {"family": family, "stages": stages}
    raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")


def sample_specs(family, n, random_state=0):
    """Draw ``n`` distinct random specs of ``family``."""
    rng = np.random.default_rng(random_state)
    seen, specs = set(), []
    for _ in range(100 * n):
        spec = sample_spec(family, rng)
        key = json.dumps(spec, sort_keys=True)
        if key not in seen:
            seen.add(key)
            specs.append(spec)
            if len(specs) == n:
                return specs
    raise ValueError(f"family {family!r} has fewer than {n} distinct networks")
