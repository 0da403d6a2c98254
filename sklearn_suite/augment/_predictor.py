"""LA3's neural predictor ensemble, and its view as a botorch ensemble model."""

import numpy as np
import torch
from torch import nn

from sklearn_suite.augment._ops import OP_NAMES
from sklearn_suite.base import fit_net, make_net, torch_seeded

__all__ = ["TriplePredictor", "fit_predictor_ensemble", "predict_ensemble"]


class TriplePredictor(nn.Module):
    """Predicts the reward of (label, op triple).

    A label embedding (omitted when ``label_aware=False``) beside the *sum* of the
    three op embeddings (Identity is the zero padding embedding, so the triple is
    read as a multiset), then 3 x [Linear + ReLU] and a linear output.
    """

    def __init__(self, n_classes, dim=100, hidden=100, label_aware=True):
        super().__init__()
        self.label_aware = label_aware
        self.label_embedding = nn.Embedding(n_classes, dim) if label_aware else None
        self.op_embedding = nn.Embedding(len(OP_NAMES), dim, padding_idx=0)
        layers, width = [], 2 * dim if label_aware else dim
        for _ in range(3):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, labels, triples):
        h = self.op_embedding(triples).sum(dim=1)
        if self.label_aware:
            h = torch.cat([self.label_embedding(labels), h], dim=1)
        return self.mlp(h).squeeze(-1)


class TripleEnsemble(nn.Module):
    """The members side by side: ``forward`` gives their predictions, ``(M, n)``."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, labels, triples):
        return torch.stack([m(labels, triples) for m in self.members])


class SubsetL1Loss(nn.Module):
    """Sum over members of each member's mean absolute error on its own rows.

    The members share no parameter, so the gradient (and Adam's step) of each is
    exactly that of training it alone on its rows."""

    def forward(self, predictions, target):
        subset = target["subset"].T.float()  # (M, n)
        errors = (predictions - target["reward"]).abs() * subset
        return (errors.sum(1) / subset.sum(1)).sum()


def fit_predictor_ensemble(
    labels,
    triples,
    rewards,
    *,
    n_classes,
    n_members=5,
    label_aware=True,
    epochs=100,
    lr=0.01,
    dim=100,
    seed=0,
    callbacks=None,
    device="cpu",
):
    """Train ``n_members`` predictors (L1 loss, Adam, full batch), each on its own
    random 90% of the observations, as one skorch net.

    Parameters
    ----------
    labels : array of int, shape (n,)
    triples : array of int, shape (n, 3)
    rewards : array of float, shape (n,)
        Mean observed reward per (label, triple).

    Returns
    -------
    members : list of TriplePredictor, in eval mode
    history : skorch.History
    """
    n = len(rewards)
    members, subset = [], np.zeros((n, n_members), dtype=bool)
    for m in range(n_members):
        with torch_seeded(seed + m):
            members.append(TriplePredictor(n_classes, dim, dim, label_aware))
            subset[torch.randperm(n)[: max(1, int(round(0.9 * n)))].numpy(), m] = True
    net = make_net(
        TripleEnsemble(members),
        stage="LA3 predictor",
        seed=seed,
        device=device,
        lr=lr,
        max_epochs=epochs,
        batch_size=-1,
        criterion=SubsetL1Loss,
        optimizer=torch.optim.Adam,
        callbacks=callbacks,
    )
    with torch_seeded(seed, device):
        fit_net(
            net,
            {
                "labels": np.asarray(labels, dtype=np.int64),
                "triples": np.asarray(triples, dtype=np.int64),
            },
            {"reward": np.asarray(rewards, dtype=np.float32), "subset": subset},
        )
    module = net.module_.cpu().eval()
    return list(module.members), net.history


@torch.no_grad()
def predict_ensemble(members, labels, triples):
    """Member predictions, shape (n_members, n)."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    triples = torch.as_tensor(np.asarray(triples), dtype=torch.long)
    return torch.stack([m(labels, triples) for m in members]).numpy()


def botorch_ensemble(members):
    """The ensemble as a botorch ``EnsembleModel`` over rows (label, op1, op2, op3).

    Outputs the *negated* predicted reward (accuracy drop), since botorch maximises.
    """
    from botorch.models.ensemble import EnsembleModel

    class _Ensemble(EnsembleModel):
        def __init__(self):
            super().__init__()
            self.members = nn.ModuleList(members)
            self._num_outputs = 1

        def forward(self, X):
            rows = X.round().long().reshape(-1, 4)
            with torch.no_grad():
                out = torch.stack([-m(rows[:, 0], rows[:, 1:]) for m in self.members])
            out = out.reshape(len(self.members), *X.shape[:-1]).to(X.dtype)
            return out.movedim(0, -2).unsqueeze(-1)  # batch x s x n x 1

    return _Ensemble()
