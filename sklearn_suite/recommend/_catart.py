"""CATARTRecommender: multi-target cross-domain recommendation with a contrastive
autoencoder (CAT) and attention-based representation transfer (ART)."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    ArrayDataset,
    LossOutput,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    fit_method,
    torch_seeded,
)
from sklearn_suite.recommend._base import (
    EmbeddingRecommenderMixin,
    InteractionIndex,
    NegativeSampler,
    check_interactions,
    check_users,
)
from sklearn_suite.recommend._modules import (
    BPRMF,
    KNOWLEDGE,
    AttentiveTransfer,
    ContrastiveAutoencoder,
)
from sklearn_suite.recommend._protocols import FullRankingScoreMixin
from sklearn_suite.recommend._training import (
    ARTStage,
    BPRLoss,
    CATStage,
    MaskedDomains,
    MFStage,
    NegativeCollate,
    RankingValidation,
    SampledSoftmaxLoss,
    bpr_rows,
    fit_stage,
)


def _hold_out(X, rng, share=0.1):
    """Validation rows: about ``share`` of each user's interactions in each
    domain, never all of them (a user's only interaction in a domain stays)."""
    held = rng.random(len(X)) < share
    groups = X.groupby(["user", "domain"], sort=False).indices.values()
    for rows in groups:
        if len(rows) == 1:
            held[rows] = False
        elif held[rows].all():
            held[rows[rng.randint(len(rows))]] = False
    return held


class CATARTRecommender(
    TorchEstimatorMixin, EmbeddingRecommenderMixin, FullRankingScoreMixin, BaseEstimator
):
    """CAT-ART: one global user representation for all domains, transferred to
    each target domain by attention.

    1. Per domain, BPR matrix factorisation with global user ids.
    2. CAT: an MLP autoencoder over each user's concatenated, frozen MF
       embeddings, trained on the original view and a view with one random
       domain replaced by a learnable mask vector: symmetric InfoNCE between the
       two views of the same user (in-batch negatives, ``temperature``) plus the
       reconstruction of the unmasked input from each view, weighted
       ``loss_weights``. Domains where a user has no interaction hold a learnable
       pad vector and are left out of the reconstruction loss.
    3. ART, one per target domain, all sharing the frozen CAT encoder: the user's
       target-domain embedding queries single-head attention over linearly
       adapted source-domain embeddings (absent domains masked); the user vector
       is target + attention + Linear(CAT embedding), trained with BPR. The MF
       user embeddings of every domain stay frozen (the paper's text; its code
       also fine-tunes the source tables); item embeddings start from MF and
       train.

    Parameters
    ----------
    n_factors : int, default=64
        Embedding width of MF, CAT and ART.
    temperature : float, default=0.1
        InfoNCE temperature of CAT.
    loss_weights : tuple of 3 float, default=(0.2, 0.4, 0.4)
        Weights of the contrastive loss, the reconstruction from the original view
        and the reconstruction from the masked view. ``(0, 1, 0)`` is the
        reconstruction-only CAT.
    knowledge : {"both", "d_sp", "d_in", "none", "concat_target", "concat_all"}, \
            default="both"
        What ART adds to the target embedding: attention and global (the method),
        attention only, global only, nothing (the single-domain MF of stage 1,
        no ART training), or the
        concatenation baselines ``target + Linear(concat sources)`` and
        ``Linear(concat all domains)``.
    mf_max_epochs : int, default=100
        Maximum epochs of each domain's MF (early stopping, see ``monitor``).
    cat_max_epochs : int, default=100
        Maximum epochs of CAT (early stopping on held-out users' loss).
    art_max_epochs : int, default=100
        Maximum epochs of each domain's ART (early stopping, see ``monitor``).
    lr : float, default=1e-3
        Adam learning rate of every stage.
    batch_size : int, default=256
    weight_decay : float, default=3e-2
        Weight of MF's L2 penalty on the embeddings of each batch (divided by
        the batch size); the paper's code uses 1e-4. Sparse domains' MF user
        embeddings overfit their few items without a strong penalty, and the
        frozen embeddings carry that into CAT and ART (chosen on MovieLens
        validation items, ``benchmarks/results/movielens.md``).
    patience : int, default=5
        Epochs without validation improvement before a stage stops.
    monitor : {"ndcg", "loss"}, default="ndcg"
        What early stopping of the MF and ART stages watches: NDCG@10 of the
        validation interactions, ranking every item of the domain (recorded as
        ``valid_ndcg`` in ``history_``), or the validation BPR loss (the
        paper's code). CAT always stops on its validation loss.
    loss : {"bpr", "softmax"}, default="softmax"
        Training loss of the MF and ART stages: BPR (the paper's), averaged over
        the negatives, or sampled softmax (cross-entropy of the positive against
        its negatives).
    n_negatives : int, default=8
        Uniform unseen negatives per positive in the MF and ART stages (the
        paper: 1).
    item_bias : bool, default=True
        Add a learned per-item bias to every MF and ART score (the paper scores
        by the dot product alone). ART's biases start from its domain's MF.
    dropout : float, default=0.1
        Attention dropout of ART.
    eval_batch_size : int, default=1024
        Users scored at once when ranking all items (bounds memory).
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of every training stage's net (they see every epoch).
    device : str, default="cpu"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        1 shows progress bars.

    Attributes
    ----------
    users_ : pandas.Index
        Known users.
    domains_ : list
        Domains, in order of first appearance.
    items_ : dict
        Domain -> pandas.Index of its items.
    mf_ : list of BPRMF
    cat_ : ContrastiveAutoencoder
    art_ : list of AttentiveTransfer
        One per domain.
    history_ : dict
        skorch Histories (``train_loss``, ``valid_loss``) per stage: ``"mf"``
        and ``"art"`` map each domain to its own, ``"cat"`` is one.

    Notes
    -----
    Cold start: users unknown at ``fit`` get the domain's most popular unseen
    items from :meth:`recommend` (score NaN), NaN from :meth:`predict` and NaN
    rows from :meth:`transform`; unknown items score NaN. A known user absent
    from the target domain is represented by zero target embedding plus what ART
    transfers from the other domains.

    Examples
    --------
    >>> from sklearn_suite.datasets import make_cross_domain_interactions
    >>> from sklearn_suite.recommend import CATARTRecommender
    >>> data = make_cross_domain_interactions(n_users=150, random_state=0)
    >>> model = CATARTRecommender(n_factors=8, mf_max_epochs=2, cat_max_epochs=2,
    ...                           art_max_epochs=2, random_state=0).fit(data.train)
    >>> model.recommend([0, 1], domain=2, k=3).shape
    (6, 4)

    References
    ----------
    .. [1] C. Li et al., "One for All, All for One: Learning and Transferring User
       Embeddings for Cross-Domain Recommendation", WSDM 2023, arXiv:2211.11964.
    """

    def __init__(
        self,
        *,
        n_factors=64,
        temperature=0.1,
        loss_weights=(0.2, 0.4, 0.4),
        knowledge="both",
        mf_max_epochs=100,
        cat_max_epochs=100,
        art_max_epochs=100,
        lr=1e-3,
        batch_size=256,
        weight_decay=3e-2,
        patience=5,
        monitor="ndcg",
        loss="softmax",
        n_negatives=8,
        item_bias=True,
        dropout=0.1,
        eval_batch_size=1024,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.n_factors = n_factors
        self.temperature = temperature
        self.loss_weights = loss_weights
        self.knowledge = knowledge
        self.mf_max_epochs = mf_max_epochs
        self.cat_max_epochs = cat_max_epochs
        self.art_max_epochs = art_max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.patience = patience
        self.monitor = monitor
        self.loss = loss
        self.n_negatives = n_negatives
        self.item_bias = item_bias
        self.dropout = dropout
        self.eval_batch_size = eval_batch_size
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    _parameter_constraints: dict = {
        "n_factors": [POSITIVE_INT],
        "temperature": [POSITIVE],
        "loss_weights": [tuple, list],
        "knowledge": [StrOptions(set(KNOWLEDGE))],
        "mf_max_epochs": [POSITIVE_INT],
        "cat_max_epochs": [POSITIVE_INT],
        "art_max_epochs": [POSITIVE_INT],
        "lr": [POSITIVE],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "weight_decay": [NON_NEGATIVE],
        "patience": [POSITIVE_INT],
        "monitor": [StrOptions({"ndcg", "loss"})],
        "loss": [StrOptions({"bpr", "softmax"})],
        "n_negatives": [POSITIVE_INT],
        "item_bias": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "eval_batch_size": [POSITIVE_INT],
        **COMMON_CONSTRAINTS,
    }

    def _check_params(self):
        """What the declared constraints cannot say; returns the device."""
        weights = np.asarray(self.loss_weights, dtype=float)
        if (
            weights.shape != (3,)
            or not np.all(np.isfinite(weights))
            or weights.min() < 0
        ):
            raise ValueError(
                "loss_weights must be 3 finite non-negative weights (contrastive, "
                f"reconstruction of the original, of the masked view); got "
                f"{self.loss_weights!r}."
            )
        return check_device(self.device)

    # ---------------------------------------------------------------- training
    def _fit_bpr(self, module, train, valid, sampler, rng, seed, epochs, stage):
        """``loss`` with ``n_negatives`` uniform unseen negatives per positive,
        drawn afresh each epoch; early stopping on the validation NDCG@10 or loss
        (negatives drawn once), best epoch restored. Returns the stage's
        history."""
        u_val, i_val = valid
        # one negative keeps BPR's (n,) layout; more give (n, n_negatives)
        n_negatives = None if self.n_negatives == 1 else self.n_negatives
        ranking = None
        if self.monitor == "ndcg" and len(u_val):
            ranking = RankingValidation(
                module, train, valid, batch_size=self.eval_batch_size
            )
        net = fit_stage(
            module,
            bpr_rows(*train, n_negatives=n_negatives),
            valid=(
                bpr_rows(u_val, i_val, sampler.sample(u_val, rng, n_negatives))
                if len(u_val)
                else None
            ),
            collate=NegativeCollate(sampler, int(rng.randint(2**31 - 1)), n_negatives),
            stage=stage,
            seed=seed,
            device=self._device,
            lr=self.lr,
            max_epochs=epochs,
            batch_size=self.batch_size,
            patience=self.patience,
            criterion=SampledSoftmaxLoss if self.loss == "softmax" else BPRLoss,
            callbacks=self.callbacks,
            verbose=self.verbose,
            ranking=ranking,
        )
        module.eval()
        return net.history

    def _split_domain(self, codes, valid_codes, d):
        u, i, dom = codes
        rows = dom == d
        vu, vi, vd = valid_codes
        vrows = (vd == d) & (vu >= 0) & (vi >= 0)
        return (u[rows], i[rows]), (vu[vrows], vi[vrows])

    @fit_method
    def fit(self, X, y=None, X_valid=None):
        """Fit MF per domain, then CAT, then one ART per domain.

        Parameters
        ----------
        X : pandas.DataFrame
            Training interactions, columns ``user``, ``item``, ``domain`` (any
            hashable ids; items are scoped by domain).
        y : None
            Ignored.
        X_valid : pandas.DataFrame, default=None
            Validation interactions for early stopping; None holds out about 10%
            of each user's interactions in each domain (never a user's only
            one there). Every user, item and domain of ``X`` is known after
            ``fit`` either way.

        Returns
        -------
        self : CATARTRecommender
        """
        self._device = self._check_params()
        X = check_interactions(X)
        if isinstance(X["domain"].dtype, pd.CategoricalDtype):
            empty = sorted(set(X["domain"].cat.categories) - set(X["domain"]))
            if empty:
                raise ValueError(f"domains {empty} have no interactions.")
        n_domains, n_users = X["domain"].nunique(), X["user"].nunique()
        if n_domains < 2 or n_users < 3:
            raise ValueError(
                "CAT-ART transfers user representations between domains: X needs "
                f"at least 2 domains and 3 users; it has {n_domains} domain(s) and "
                f"{n_users} user(s)."
            )
        rng = check_random_state(self.random_state)
        seed = check_seed(rng)
        # every user, item and domain of X is known, whatever is held out
        index = InteractionIndex().fit(X)
        seen_all = index.encode(X)
        if X_valid is None:
            held = _hold_out(X, rng)
            X, X_valid = X[~held].reset_index(drop=True), X[held]
        else:
            X_valid = check_interactions(X_valid, name="X_valid")
        self._adopt_index(index)
        codes = index.encode(X)
        known = X_valid["domain"].isin(self.domains_)
        valid_codes = index.encode(X_valid[known])
        n_users, n_domains, dim = len(self.users_), len(self.domains_), self.n_factors
        self._remember_known(seen_all)
        self.history_ = {"mf": {}, "cat": None, "art": {}}
        self._seed = seed
        with torch_seeded(seed, self._device):
            # 1. single-domain BPR-MF
            self.mf_, samplers = [], []
            for d, dom in enumerate(self.domains_):
                train, valid = self._split_domain(codes, valid_codes, d)
                mf = BPRMF(n_users, len(self.items_[dom]), dim, self.item_bias)
                sampler = NegativeSampler(*train, len(self.items_[dom]))
                self.history_["mf"][dom] = self._fit_bpr(
                    MFStage(mf, self.weight_decay), train, valid, sampler, rng, seed,
                    self.mf_max_epochs, f"MF {dom}",
                )  # fmt: skip
                self.mf_.append(mf.cpu())
                samplers.append(sampler)
            present = torch.zeros(n_users, n_domains, dtype=torch.bool)
            present[codes[0], torch.as_tensor(codes[2])] = True
            emb = torch.stack([mf.users.weight.detach() for mf in self.mf_], 1)
            emb = emb * present[..., None]  # users absent from a domain: zero
            self._present, self._emb = present, emb
            # 2. CAT, then frozen
            self.cat_ = ContrastiveAutoencoder(n_domains, dim)
            self.history_["cat"] = self._train_cat(rng, seed)
            for p in self.cat_.parameters():
                p.requires_grad_(False)
            with torch.no_grad():
                self._global = self.cat_.encode(emb, present)
            self._codes, self._valid_codes, self._samplers = (
                codes,
                valid_codes,
                samplers,
            )
            self._fit_transfer(rng)
        return self

    def _fit_transfer(self, rng):
        """Stage 3: one ART per target domain on the frozen MF and CAT outputs.

        Separate so that ablations of ``knowledge`` can reuse stages 1-2 (the
        benchmark copies a fitted model, sets ``knowledge`` and calls this).
        """
        self.art_, self.history_["art"] = [], {}
        for d, dom in enumerate(self.domains_):
            train, valid = self._split_domain(self._codes, self._valid_codes, d)
            art = self._transfer_module(d)
            if self.knowledge != "none":  # "none": single-domain BPR-MF as fitted
                stage = ARTStage(art, self._emb, self._present, self._global)
                self.history_["art"][dom] = self._fit_bpr(
                    stage, train, valid, self._samplers[d], rng, self._seed,
                    self.art_max_epochs, f"ART {dom}",
                )  # fmt: skip
            self.art_.append(art.cpu().eval())

    def _train_cat(self, rng, seed):
        """Minibatch CAT training; early stopping on 10% of users."""
        users = rng.permutation(len(self._emb))
        n_val = max(len(users) // 10, 2)
        val, train = users[:n_val], users[n_val:]
        stage = CATStage(
            self.cat_, self._emb, self._present, self.temperature, self.loss_weights
        )
        net = fit_stage(
            stage,
            ArrayDataset({"users": train}),
            valid=ArrayDataset({"users": val}),
            collate=MaskedDomains(self._present, int(rng.randint(2**31))),
            stage="CAT",
            seed=seed,
            device=self._device,
            lr=self.lr,
            max_epochs=self.cat_max_epochs,
            batch_size=self.batch_size,
            patience=self.patience,
            criterion=LossOutput,
            callbacks=self.callbacks,
            verbose=self.verbose,
            # a batch of one user has no in-batch negative
            drop_last=len(train) % self.batch_size == 1,
        )
        self.cat_.eval().cpu()
        return net.history

    def _rebuild_modules(self):
        """For :meth:`load`: MF per domain, CAT and ART per domain, weights to be
        loaded."""
        n_users, n_domains, dim = len(self.users_), len(self.domains_), self.n_factors
        self.mf_ = [
            BPRMF(n_users, len(self.items_[d]), dim, self.item_bias)
            for d in self.domains_
        ]
        self.cat_ = ContrastiveAutoencoder(n_domains, dim)
        self.art_ = [self._transfer_module(d) for d in range(n_domains)]

    def _transfer_module(self, d):
        """Domain ``d``'s ART, its items (and biases) starting from its MF."""
        bias = self.mf_[d].scores.bias
        return AttentiveTransfer(
            len(self.domains_), d, self.n_factors, self.mf_[d].items.weight.detach(),
            self.knowledge, self.dropout,
            None if bias is None else bias.weight.detach(),
        )  # fmt: skip

    # --------------------------------------------------------------- inference
    def _user_vectors(self, user_codes, d):
        art = self.art_[d]
        idx = torch.as_tensor(user_codes)
        with torch.no_grad():
            return art.scores.rank_users(
                art.user_vectors(self._emb[idx], self._present[idx], self._global[idx])
            )

    def _item_vectors(self, d):
        return self.art_[d].scores.rank_items()

    def transform(self, users):
        """Global (CAT) user embeddings; NaN rows for unknown users.

        Parameters
        ----------
        users : sequence

        Returns
        -------
        Z : ndarray of shape (n_users, n_factors)
        """
        check_is_fitted(self, "art_")
        codes = self.users_.get_indexer(check_users(users))
        out = np.full((len(codes), self.n_factors), np.nan, dtype=np.float32)
        out[codes >= 0] = self._global[codes[codes >= 0]].numpy()
        return out
