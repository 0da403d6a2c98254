"""Training stages of the recommenders on the library's skorch engine: BPR with
sampled unseen negatives (CAT-ART's MF and ART), CAT's contrastive autoencoder,
and step-based training on random user batches (the sequential models)."""

import numpy as np
import torch
from torch import nn

from sklearn_suite.base import (
    ArrayCollate,
    ArrayDataset,
    EpochMetric,
    LossOutput,
    fit_net,
    make_net,
)

__all__ = [
    "ARTStage",
    "BPRLoss",
    "CATStage",
    "MaskedDomains",
    "MFStage",
    "NegativeCollate",
    "SequenceDraws",
    "bpr_rows",
    "fit_stage",
    "fit_steps",
]


class NegativeCollate(ArrayCollate):
    """Draws a uniform unseen negative ``j`` for every row whose ``j`` is -1
    (training rows), leaving fixed negatives (validation rows) as they are."""

    def __init__(self, sampler, seed):
        self.sampler = sampler
        self.rng = np.random.RandomState(seed)

    def extend(self, X):
        draw = X["j"] < 0
        if draw.any():
            X["j"] = X["j"].copy()
            X["j"][draw] = self.sampler.sample(X["u"][draw], self.rng)
        return X


def bpr_rows(users, items, negatives=None):
    """(user, item, negative) rows; negative -1 means "draw one per epoch"."""
    j = np.full(len(users), -1) if negatives is None else negatives
    return ArrayDataset(
        {"u": users.astype(np.int64), "i": items.astype(np.int64),
         "j": np.asarray(j, dtype=np.int64)}
    )  # fmt: skip


class BPRLoss(nn.Module):
    """``softplus(s_neg - s_pos)`` averaged, plus a penalty when the module adds
    one (``(pos, neg)`` or ``(pos, neg, penalty)``)."""

    def forward(self, scores, target=None):
        pos, neg, *penalty = scores
        loss = nn.functional.softplus(neg - pos).mean()
        return loss + penalty[0] if penalty else loss


class MFStage(nn.Module):
    """BPR-MF scoring a positive and a negative item, with the L2 weight on the
    batch's embeddings while training (the validation loss is plain BPR)."""

    def __init__(self, mf, l2):
        super().__init__()
        self.mf = mf
        self.l2 = l2

    def forward(self, u, i, j):
        pos, neg = self.mf(u, i), self.mf(u, j)
        if not self.training:
            return pos, neg
        reg = (
            self.mf.users(u).pow(2).sum()
            + self.mf.items(i).pow(2).sum()
            + self.mf.items(j).pow(2).sum()
        )
        return pos, neg, self.l2 * reg / len(u)


class ARTStage(nn.Module):
    """One domain's ART scoring a positive and a negative item from the frozen
    per-domain MF embeddings and the frozen global (CAT) embedding."""

    def __init__(self, art, emb, present, global_emb):
        super().__init__()
        self.art = art
        # inputs, not parameters: kept out of state dicts (and best-state copies)
        self.register_buffer("emb", emb, persistent=False)
        self.register_buffer("present", present, persistent=False)
        self.register_buffer("global_emb", global_emb, persistent=False)

    def forward(self, u, i, j):
        emb, present, glob = self.emb[u], self.present[u], self.global_emb[u]
        return self.art(emb, present, glob, i), self.art(emb, present, glob, j)


class MaskedDomains(ArrayCollate):
    """Draws, for every user of a CAT batch, one of its present domains to mask
    (uniformly, CAT's "rand" mode)."""

    def __init__(self, present, seed):
        self.present = present
        self.generator = torch.Generator().manual_seed(seed)

    def extend(self, X):
        p = self.present[torch.as_tensor(X["users"])].float() + 1e-9
        X["masked"] = torch.multinomial(p, 1, generator=self.generator)[:, 0].numpy()
        return X


class CATStage(nn.Module):
    """CAT's loss on a batch of users (the module computes its own loss)."""

    def __init__(self, cat, emb, present, temperature, weights):
        super().__init__()
        self.cat = cat
        self.register_buffer("emb", emb, persistent=False)
        self.register_buffer("present", present, persistent=False)
        self.temperature = temperature
        self.weights = tuple(weights)

    def forward(self, users, masked):
        return self.cat.loss(
            self.emb[users], self.present[users], masked, self.temperature,
            self.weights,
        )  # fmt: skip


def fit_stage(module, train, *, valid=None, collate, stage, seed, device, lr,
              max_epochs, batch_size, patience, criterion, callbacks=None,
              verbose=0, drop_last=False):  # fmt: skip
    """Adam on ``module``; with ``valid``, early stopping on the validation loss
    (``patience`` epochs without an improvement of 1e-6), best epoch restored.

    Returns the fitted skorch net.
    """
    net = make_net(
        module,
        stage=stage,
        seed=seed,
        device=device,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        valid=valid,
        early_stopping=(
            None
            if valid is None
            else dict(
                monitor="valid_loss",
                patience=patience,
                threshold=1e-6,
                threshold_mode="abs",
                sink=_quiet,
            )
        ),  # fmt: skip
        collate=collate,
        drop_last=drop_last,
        callbacks=callbacks,
        verbose=verbose,
        iterator_valid__batch_size=8192,
    )
    fit_net(net, train)
    return net


def _quiet(message):
    """EarlyStopping's sink: stopping early is expected, not news."""


class SequenceDraws(ArrayCollate):
    """Each step's batch: for every named pool ``(domain, users, eos)``, as many
    users as the step has rows, drawn with replacement, as left-padded sequences
    of the most recent ``max_len`` items (``eos`` last when not None)."""

    def __init__(self, store, pools, max_len, seed):
        self.store = store
        self.pools = pools
        self.max_len = max_len
        self.rng = np.random.RandomState(seed)

    def __call__(self, batch):
        X, _ = batch
        n = len(X["step"])
        out = {
            name: self.store.padded(
                d, users[self.rng.randint(len(users), size=n)], self.max_len, eos
            )
            for name, (d, users, eos) in self.pools.items()
        }
        return out, torch.zeros(n)


def fit_steps(module, draws, *, n_steps, eval_every, batch_size, validate, stage,
              seed, device, lr, callbacks=None, verbose=0, schedule=None,
              optimizer_params=None):  # fmt: skip
    """Step-based training on random user batches (``draws``, a
    :class:`SequenceDraws`), in rounds of ``eval_every`` steps: one skorch epoch
    per round, so ``n_steps`` is rounded up to whole rounds. With ``validate``
    (a callable returning HR@10), it is recorded as ``valid_hr`` after every
    round and the best round's weights are restored at the end.

    Returns the fitted skorch net.
    """
    rounds = -(-n_steps // eval_every)
    net = make_net(
        module,
        stage=stage,
        seed=seed,
        device=device,
        lr=lr,
        max_epochs=rounds,
        batch_size=batch_size,
        criterion=LossOutput,
        optimizer=torch.optim.Adam,
        optimizer_params=optimizer_params,
        stage_callbacks=(
            [("valid_hr", EpochMetric("valid_hr", validate))] if validate else []
        ),
        early_stopping=(
            dict(
                monitor="valid_hr",
                lower_is_better=False,
                patience=rounds + 1,
                threshold=0,
            )  # fmt: skip
            if validate
            else None
        ),
        schedule=schedule,
        collate=draws,
        shuffle=False,
        callbacks=callbacks,
        verbose=verbose,
    )
    if rounds:
        fit_net(net, ArrayDataset({"step": np.arange(eval_every * batch_size)}))
    else:  # nothing to train: the module as initialised, an empty history
        net.initialize()
    return net
