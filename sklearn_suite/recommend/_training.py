"""Training stages of the recommenders on the library's skorch engine: BPR with
sampled unseen negatives (CAT-ART's MF and ART), CAT's contrastive autoencoder,
and step-based training on random user batches (the sequential models)."""

import numpy as np
import pandas as pd
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
from sklearn_suite.metrics import ndcg_at_k
from sklearn_suite.recommend._base import seen_lists, top_k_items

__all__ = [
    "ARTStage",
    "BPRLoss",
    "CATStage",
    "MaskedDomains",
    "MFStage",
    "NegativeCollate",
    "RankingValidation",
    "SampledSoftmaxLoss",
    "SequenceDraws",
    "bpr_rows",
    "fit_stage",
    "fit_steps",
]


class NegativeCollate(ArrayCollate):
    """Draws uniform unseen negatives ``j`` (one, or a row of ``n_negatives``) for
    every row whose ``j`` is -1 (training rows), leaving fixed negatives
    (validation rows) as they are."""

    def __init__(self, sampler, seed, n_negatives=None):
        self.sampler = sampler
        self.rng = np.random.RandomState(seed)
        self.n_negatives = n_negatives

    def extend(self, X):
        draw = X["j"].reshape(len(X["j"]), -1)[:, 0] < 0
        if draw.any():
            X["j"] = X["j"].copy()
            X["j"][draw] = self.sampler.sample(X["u"][draw], self.rng, self.n_negatives)
        return X


def bpr_rows(users, items, negatives=None, n_negatives=None):
    """(user, item, negatives) rows; negatives -1 mean "draw afresh each epoch"
    (one per row, or ``n_negatives`` per row)."""
    if negatives is None:
        shape = len(users) if n_negatives is None else (len(users), n_negatives)
        negatives = np.full(shape, -1)
    return ArrayDataset(
        {"u": users.astype(np.int64), "i": items.astype(np.int64),
         "j": np.asarray(negatives, dtype=np.int64)}
    )  # fmt: skip


class BPRLoss(nn.Module):
    """``softplus(s_neg - s_pos)`` averaged over every negative, plus a penalty
    when the module adds one (``(pos, neg)`` or ``(pos, neg, penalty)``)."""

    def forward(self, scores, target=None):
        pos, neg, *penalty = scores
        if neg.dim() > pos.dim():
            pos = pos[:, None]
        loss = nn.functional.softplus(neg - pos).mean()
        return loss + penalty[0] if penalty else loss


class SampledSoftmaxLoss(nn.Module):
    """Cross-entropy of the positive against its sampled negatives (the positive
    is class 0 of ``[s_pos, s_neg_1, ..., s_neg_n]``), plus the module's penalty."""

    def forward(self, scores, target=None):
        pos, neg, *penalty = scores
        logits = torch.cat([pos[:, None], neg.reshape(len(pos), -1)], 1)
        loss = nn.functional.cross_entropy(
            logits, torch.zeros(len(pos), dtype=torch.long, device=logits.device)
        )
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
            self.mf.users(u).pow(2).sum()  # the item bias is not penalised
            + self.mf.items(i).pow(2).sum()
            + self.mf.items(j).pow(2).sum()
        )
        return pos, neg, self.l2 * reg / len(u)

    def vectors(self, u):
        """User vectors of ``u`` and every item's vector, for ranking."""
        scores = self.mf.scores
        return scores.rank_users(self.mf.users(u)), scores.rank_items()


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

    def vectors(self, u):
        """User vectors of ``u`` and every item's vector, for ranking."""
        user = self.art.user_vectors(self.emb[u], self.present[u], self.global_emb[u])
        return self.art.scores.rank_users(user), self.art.scores.rank_items()


class RankingValidation:
    """NDCG@``k`` of a BPR stage's current vectors on validation pairs: every item
    of the domain ranked for each validation user, its training items excluded.

    ``module`` has ``vectors(users) -> (user_vectors, item_vectors)``; ``train``
    and ``valid`` are (user codes, item codes) of one domain.
    """

    def __init__(self, module, train, valid, k=10, batch_size=1024):
        self.module, self.k, self.batch_size = module, k, batch_size
        (u_tr, i_tr), (u_val, i_val) = train, valid
        truth = pd.Series(i_val).groupby(u_val).agg(set)
        self.users, self.truth = truth.index.to_numpy(), list(truth)
        n_users = int(max(u_val.max(), u_tr.max(initial=0))) + 1
        seen = seen_lists((u_tr, i_tr, np.zeros_like(u_tr)), n_users, 1)[0]
        self.seen = [seen[u] for u in self.users]

    def __call__(self):
        device = next(self.module.parameters()).device
        with torch.no_grad():
            users, items = self.module.vectors(
                torch.as_tensor(self.users, device=device)
            )
            ranked, _ = top_k_items(
                users.cpu(), items.cpu(), self.k, self.seen, self.batch_size
            )
        return ndcg_at_k(self.truth, ranked, min(self.k, ranked.shape[1]))


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
              verbose=0, drop_last=False, ranking=None):  # fmt: skip
    """Adam on ``module``; with ``valid``, early stopping on the validation loss
    (``patience`` epochs without an improvement of 1e-6), best epoch restored.
    With ``ranking`` (a :class:`RankingValidation`), its NDCG is recorded as
    ``valid_ndcg`` after every epoch and early stopping watches it instead.

    Returns the fitted skorch net.
    """
    watch = (
        dict(monitor="valid_loss")
        if ranking is None
        else dict(monitor="valid_ndcg", lower_is_better=False)
    )
    stopping = None if valid is None else dict(
        **watch, patience=patience, threshold=1e-6, threshold_mode="abs", sink=_quiet
    )  # fmt: skip
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
        early_stopping=stopping,
        stage_callbacks=(
            []
            if ranking is None
            else [("valid_ndcg", EpochMetric("valid_ndcg", ranking))]
        ),
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
