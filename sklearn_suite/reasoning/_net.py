"""R5's policy-value network over relation-pair feature maps."""

import torch
from torch import nn
from torch.nn import functional as F

from sklearn_suite.reasoning._env import N_FEATURES


class PolicyValueNet(nn.Module):
    """Three 3x3 convolutions (8 -> 16 -> 32 -> 128, ReLU); a policy head (1x1
    conv to 4 channels, linear to one logit per relation pair, log-softmax) and a
    value head (1x1 conv to 2 channels, linear 32, linear 1, tanh), as in
    AlphaZero's board networks.

    Weights and inputs are kept channels-last, the layout oneDNN's CPU
    convolutions run about twice as fast in (same arithmetic)."""

    def __init__(self, width):
        super().__init__()
        self.width = width
        self.body = nn.Sequential(
            nn.Conv2d(N_FEATURES, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 128, 3, padding=1),
            nn.ReLU(),
        )
        area = width * width
        self.policy_conv = nn.Conv2d(128, 4, 1)
        self.policy_fc = nn.Linear(4 * area, area)
        self.value_conv = nn.Conv2d(128, 2, 1)
        self.value_fc1 = nn.Linear(2 * area, 32)
        self.value_fc2 = nn.Linear(32, 1)
        self.to(memory_format=torch.channels_last)

    def forward(self, maps):
        h, p = self._trunk(maps)
        return F.log_softmax(self.policy_fc(p), dim=1), self._value(h)

    def priors(self, maps, actions):
        """The policy renormalised over ``actions`` (flat pair indices), and the
        value: what the search needs of a state.

        Equal to ``exp(log_policy)[:, actions]`` divided by its sum, but only
        those actions' rows of ``policy_fc`` are computed: at one state the
        search has a handful of legal merges out of ``width**2``, and that layer's
        weight is the network's largest by far."""
        h, p = self._trunk(maps)
        rows = torch.as_tensor(actions, device=p.device)
        logits = F.linear(p, self.policy_fc.weight[rows], self.policy_fc.bias[rows])
        return torch.softmax(logits, dim=1), self._value(h)

    def _trunk(self, maps):
        """The body's features and the policy head's input."""
        h = self.body(maps.contiguous(memory_format=torch.channels_last))
        return h, F.relu(self.policy_conv(h)).flatten(1)

    def _value(self, h):
        v = F.relu(self.value_conv(h)).flatten(1)
        return torch.tanh(self.value_fc2(F.relu(self.value_fc1(v))))[:, 0]
