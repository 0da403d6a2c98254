"""RecGURURecommender: generalised user representations for cross-domain
sequential recommendation, aligned across domains by an adversarial game."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    HandLoop,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    fit_method,
    torch_seeded,
)
from sklearn_suite.recommend._base import check_users
from sklearn_suite.recommend._sequence import SequentialRecommenderMixin
from sklearn_suite.recommend._training import SequenceDraws, fit_steps
from sklearn_suite.recommend._transformer import (
    DomainDiscriminator,
    SequenceAutoencoder,
    gradient_penalty,
)


def next_item_bpr(states, inputs, targets, items, n_negatives):
    """BPR of each next item against the mean score of ``n_negatives`` uniform
    items, over positions with an input and a target."""
    n_items = items.num_embeddings - 2
    negatives = torch.randint(
        1, n_items + 1, (*targets.shape, n_negatives), device=targets.device
    )
    positive = (states * items(targets)).sum(-1)
    negative = torch.einsum("bld,blnd->bln", states, items(negatives)).mean(-1)
    keep = (inputs > 0) & (targets > 0)
    return F.softplus(negative - positive)[keep].mean()


class ReconstructionStage(nn.Module):
    """Phase 1's loss: each domain's batch reconstructed from its own GUR (the
    batches arrive as ``d0``, ``d1``: domain positions)."""

    def __init__(self, model, n_negatives):
        super().__init__()
        self.model = model
        self.n_negatives = n_negatives

    def forward(self, **sequences):
        loss = 0.0
        for name, seq in sequences.items():
            d = int(name[1:])
            gur = self.model.encode(seq, d)
            loss = loss + self.model.reconstruction_loss(seq, d, self.n_negatives, gur)
        return loss


class TuneStage(nn.Module):
    """Phase 3's loss: per target domain, BPR of every next item against
    ``n_bpr`` negatives, plus the domain's reconstruction."""

    def __init__(self, model, n_bpr, n_recon):
        super().__init__()
        self.model = model
        self.n_bpr = n_bpr
        self.n_recon = n_recon

    def forward(self, **sequences):
        model, loss = self.model, 0.0
        for name, seq in sequences.items():
            t = int(name[1:])
            items = seq[:, :-1]
            states = model.next_item_states(seq, items[:, :-1], t)
            bpr = next_item_bpr(
                states, items[:, :-1], items[:, 1:], model.embeddings[t].items,
                self.n_bpr,
            )  # fmt: skip
            loss = loss + bpr + model.reconstruction_loss(seq, t, self.n_recon)
        return loss


class RecGURURecommender(
    TorchEstimatorMixin, SequentialRecommenderMixin, BaseEstimator
):
    """RecGURU: one Transformer encoder shared by two domains, whose output at the
    end-of-sequence position is a generalised user representation (GUR) that a
    domain discriminator cannot attribute to its domain.

    Training follows the paper's three phases on per-user, per-domain sequences
    in timestamp order:

    1. **Reconstruction pretraining.** Per-domain item tables and positions feed
       the shared encoder; per-domain Transformer decoders reconstruct each
       sequence from its GUR (teacher forcing, causal self-attention,
       cross-attention to the GUR), with a sampled softmax over the true item
       and ``n_recon_negatives`` uniform items.
    2. **Adversarial alignment.** A discriminator (MLP) learns on *detached* GURs
       which domain they come from (binary cross-entropy plus a gradient penalty,
       ``critic_steps`` steps per generator step); the generator (embeddings,
       encoder, reconstruction decoders) minimises both reconstructions plus the
       discriminator's loss with flipped labels, and, for users present in both
       domains, ``overlap_weight`` times the squared distance of their two GURs.
       Adam with betas (0.5, 0.9) for both players.
    3. **Target fine-tuning.** Per target domain, a recommendation decoder reads
       the user's items with the detached GUR as memory and scores each next item
       (BPR against the mean of ``n_bpr_negatives`` items), trained together
       with that domain's reconstruction.

    A user's representation at inference conditions on the training sequence and,
    when ``X_valid`` was given, its validation item; the item to score is never
    in the encoder input.

    Parameters
    ----------
    d_model : int, default=32
    n_blocks : int, default=2
        Transformer blocks of the encoder and of each decoder.
    n_heads : int, default=1
    d_ff : int, default=128
    max_len : int, default=50
        Encoder input length: the most recent ``max_len - 1`` items and EOS.
    dropout : float, default=0.2
    n_recon_negatives : int, default=30
    n_bpr_negatives : int, default=5
    adversarial : bool, default=True
        False drops the adversarial term from the generator's loss (the
        discriminator still trains, to monitor alignment): the "without the
        adversary" ablation.
    critic_steps : int, default=5
    gp_weight : float, default=0.1
    overlap_weight : float, default=1.0
        Weight of the overlapping users' GUR distance (0 disables it; no
        overlapping users disables it too).
    lr_gan : float, default=1e-4
    lr_rec : float, default=1e-3
        Learning rate of pretraining (after a linear warm-up over its first
        quarter) and of fine-tuning.
    pretrain_steps : int, default=200
        Steps of reconstruction pretraining.
    gan_steps : int, default=500
        Generator steps of the adversarial phase.
    tune_steps : int, default=500
        Steps of target fine-tuning, in rounds of ``eval_every`` (rounded up).
    batch_size : int, default=256
        Users per domain per step.
    target_domain : hashable or None, default=None
        The domain to fine-tune for; None fine-tunes every domain.
    eval_every : int, default=50
        Steps between the discriminator-accuracy checks of phase 2 and, with
        ``X_valid``, the validation checks of phase 3 (the best is kept).
    eval_batch_size : int, default=1024
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of the pretraining and fine-tuning nets (the adversarial
        game is a hand-written loop and has none).
    device : str, default="cpu"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    users_ : pandas.Index
    domains_ : list
    items_ : dict
        Domain -> pandas.Index of its items.
    model_ : SequenceAutoencoder
    discriminator_ : DomainDiscriminator or None
        None when fitted on one domain.
    overlap_users_ : pandas.Index
        Users with training sequences in both domains.
    history_ : dict of str to skorch.History
        ``"pretrain"`` (one entry per step), ``"gan"`` (one entry per generator
        step: ``train_loss``, the last critic step's ``d_loss``, the adversarial
        term ``g_adv`` and, every ``eval_every`` steps, ``d_accuracy`` on
        held-out users' GURs: ``history_["gan"][:, ("step", "d_accuracy")]``)
        and ``"tune"`` (one entry per round of ``eval_every`` steps, with
        ``valid_hr`` when ``X_valid`` is given).

    Notes
    -----
    Cold start: a user with no history in a domain (unknown, or known only in
    the other domain) gets NaN from :meth:`predict` and :meth:`transform` there
    and the domain's most popular items from :meth:`recommend`. The
    discriminator's accuracy is measured on 10% of each domain's users that it
    never trains on. Positions are learned per domain and counted from the end of
    the sequence; the paper's sinusoidal tables would be identical across
    domains.

    Examples
    --------
    >>> from sklearn_suite.datasets import make_cross_domain_sequences
    >>> from sklearn_suite.recommend import RecGURURecommender
    >>> data = make_cross_domain_sequences(n_users=(80, 60), random_state=0)
    >>> model = RecGURURecommender(d_model=8, n_blocks=1, d_ff=16, max_len=10,
    ...                            pretrain_steps=2, gan_steps=2, tune_steps=2,
    ...                            random_state=0).fit(data.train, X_valid=data.valid)
    >>> model.transform([0, 1], domain=1).shape
    (2, 8)
    >>> 0 <= model.score(data.test) <= 1
    True

    References
    ----------
    .. [1] C. Li et al., "RecGURU: Adversarial Learning of Generalized User
       Representations for Cross-Domain Recommendation", WSDM 2022,
       arXiv:2111.10093.
    """

    def __init__(
        self,
        *,
        d_model=32,
        n_blocks=2,
        n_heads=1,
        d_ff=128,
        max_len=50,
        dropout=0.2,
        n_recon_negatives=30,
        n_bpr_negatives=5,
        adversarial=True,
        critic_steps=5,
        gp_weight=0.1,
        overlap_weight=1.0,
        lr_gan=1e-4,
        lr_rec=1e-3,
        pretrain_steps=200,
        gan_steps=500,
        tune_steps=500,
        batch_size=256,
        target_domain=None,
        eval_every=50,
        eval_batch_size=1024,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.d_model = d_model
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.d_ff = d_ff
        self.max_len = max_len
        self.dropout = dropout
        self.n_recon_negatives = n_recon_negatives
        self.n_bpr_negatives = n_bpr_negatives
        self.adversarial = adversarial
        self.critic_steps = critic_steps
        self.gp_weight = gp_weight
        self.overlap_weight = overlap_weight
        self.lr_gan = lr_gan
        self.lr_rec = lr_rec
        self.pretrain_steps = pretrain_steps
        self.gan_steps = gan_steps
        self.tune_steps = tune_steps
        self.batch_size = batch_size
        self.target_domain = target_domain
        self.eval_every = eval_every
        self.eval_batch_size = eval_batch_size
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _parameter_constraints: dict = {
        "d_model": [POSITIVE_INT],
        "n_blocks": [POSITIVE_INT],
        "n_heads": [POSITIVE_INT],
        "d_ff": [POSITIVE_INT],
        "max_len": [Interval(Integral, 3, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "n_recon_negatives": [POSITIVE_INT],
        "n_bpr_negatives": [POSITIVE_INT],
        "adversarial": ["boolean"],
        "critic_steps": [POSITIVE_INT],
        "gp_weight": [NON_NEGATIVE],
        "overlap_weight": [NON_NEGATIVE],
        "lr_gan": [POSITIVE],
        "lr_rec": [POSITIVE],
        "pretrain_steps": [NON_NEGATIVE_INT],
        "gan_steps": [NON_NEGATIVE_INT],
        "tune_steps": [NON_NEGATIVE_INT],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "target_domain": "no_validation",  # any hashable domain id, or None
        "eval_every": [POSITIVE_INT],
        "eval_batch_size": [POSITIVE_INT],
        **COMMON_CONSTRAINTS,
    }

    def _check_params(self):
        """What the declared constraints cannot say; returns the device."""
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads "
                f"({self.n_heads})."
            )
        return check_device(self.device)

    # ----------------------------------------------------------------- batches
    def _batch(self, d, users, rng):
        """Encoder inputs (training items + EOS) of a random batch of users."""
        picked = self._pick_users(users, rng)
        seq = self._store.padded(d, picked, self.max_len, self.model_.eos(d))
        return seq.to(self._device)

    def _overlap_batch(self, rng):
        picked = self._overlap[rng.randint(len(self._overlap), size=self.batch_size)]
        return [
            self._store.padded(d, picked, self.max_len, self.model_.eos(d)).to(
                self._device
            )
            for d in (0, 1)
        ]

    # ---------------------------------------------------------------- training
    @fit_method
    def fit(self, X, y=None, X_valid=None):
        """Fit the autoencoder, the adversarial alignment and the recommenders.

        Parameters
        ----------
        X : pandas.DataFrame
            Training interactions: ``user``, ``item``, ``domain`` (one or two
            domains), ``timestamp`` (numeric or datetime; sequences are sorted on
            it).
        y : None
            Ignored.
        X_valid : pandas.DataFrame, default=None
            Validation interactions (after each user's training sequence) for
            choosing the fine-tuning step; they join the histories afterwards.

        Returns
        -------
        self : RecGURURecommender
        """
        self._device = self._check_params()
        store, valid = self._index_sequences(X, X_valid)
        self._store = store
        n_domains = len(self.domains_)
        if n_domains > 2:
            raise ValueError(
                f"RecGURU aligns two domains; X has {n_domains}: {self.domains_}."
            )
        if self.target_domain is None:
            targets = list(range(n_domains))
        else:
            targets = [self._index.domain_position(self.target_domain)]
        rng = check_random_state(self.random_state)
        users = [
            np.flatnonzero(store.lengths(d, range(len(self.users_))) > 0)
            for d in range(n_domains)
        ]
        both = np.intersect1d(*users) if n_domains == 2 else np.empty(0, int)
        self.overlap_users_ = self.users_[both]
        self._overlap = both
        seed = check_seed(rng)
        with torch_seeded(seed, self._device):
            self.model_ = SequenceAutoencoder(
                [len(self.items_[d]) for d in self.domains_], self.d_model,
                self.n_blocks, self.n_heads, self.d_ff, self.max_len, self.dropout,
            ).to(self._device)  # fmt: skip
            self.discriminator_ = (
                DomainDiscriminator(self.d_model).to(self._device)
                if n_domains == 2
                else None
            )
            self.history_ = {"pretrain": self._pretrain(users, rng, seed)}
            self.history_["gan"] = self._align(users, rng)
            self.history_["tune"] = self._tune(users, targets, valid, rng, seed)
        self.model_.eval().cpu()
        if self.discriminator_ is not None:
            self.discriminator_.eval().cpu()
        self._device = "cpu"
        self._finish_histories(store, valid)
        return self

    def _rebuild_modules(self):
        """For :meth:`load`: the autoencoder and the discriminator, weights to be
        loaded."""
        self.model_ = SequenceAutoencoder(
            [len(self.items_[d]) for d in self.domains_], self.d_model,
            self.n_blocks, self.n_heads, self.d_ff, self.max_len, self.dropout,
        )  # fmt: skip
        if self.discriminator_ is not None:
            self.discriminator_ = DomainDiscriminator(self.d_model)
        self._device = "cpu"

    def _generator_parameters(self):
        m = self.model_
        return [
            *m.embeddings.parameters(),
            *m.encoder.parameters(),
            *m.decoders.parameters(),
        ]

    def _reconstruction(self, users, rng):
        gurs, loss = [], 0.0
        for d in range(len(users)):
            seq = self._batch(d, users[d], rng)
            gur = self.model_.encode(seq, d)
            loss = loss + self.model_.reconstruction_loss(
                seq, d, self.n_recon_negatives, gur
            )
            gurs.append(gur)
        return loss, gurs

    def _draws(self, domains, users, rng):
        """Random user batches of ``domains`` (encoder inputs: items + EOS)."""
        pools = {f"d{d}": (d, users[d], self.model_.eos(d)) for d in domains}
        return SequenceDraws(
            self._store, pools, self.max_len, int(rng.randint(2**31 - 1))
        )

    def _pretrain(self, users, rng, seed):
        """Phase 1, with a linear warm-up over its first quarter."""
        net = fit_steps(
            ReconstructionStage(self.model_, self.n_recon_negatives),
            self._draws(range(len(users)), users, rng),
            n_steps=self.pretrain_steps,
            eval_every=1,
            batch_size=self.batch_size,
            validate=None,
            stage="pretrain",
            seed=seed,
            device=self._device,
            lr=self.lr_rec,
            schedule=dict(
                total_steps=self.pretrain_steps,
                warmup_steps=max(self.pretrain_steps // 4, 1),
                final_factor=1.0,
            ),
            callbacks=self.callbacks,
            verbose=self.verbose,
        )
        return net.history

    @staticmethod
    def _critic_bce(real, fake):
        """The discriminator's loss on its logits: domain 0 is 1, domain 1 is 0."""
        return F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))

    @staticmethod
    def _generator_adversarial_loss(real, fake):
        """The generator's adversarial loss: the critic's with flipped labels."""
        return F.binary_cross_entropy_with_logits(
            real, torch.zeros_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))

    def _critic_loss(self, gur_a, gur_b):
        D = self.discriminator_
        bce = self._critic_bce(D(gur_a), D(gur_b))
        return bce + self.gp_weight * gradient_penalty(D, gur_a, gur_b)

    def _align(self, users, rng):
        """Phase 2: critic steps on detached GURs, then one generator step.

        A hand-written loop: two players with their own optimisers and a
        critic/generator step ratio are not one skorch net."""
        model, D = self.model_, self.discriminator_
        opt_g = torch.optim.Adam(
            self._generator_parameters(), lr=self.lr_gan, betas=(0.5, 0.9)
        )
        if D is not None:
            opt_d = torch.optim.Adam(D.parameters(), lr=self.lr_gan, betas=(0.5, 0.9))
            held, train = zip(*(self._split_held_out(u, rng) for u in users))
        model.train()
        loop = HandLoop(self.gan_steps, "GAN", self.verbose, hint="lr_gan")
        for step in loop:
            if D is not None:
                D.train()
                for _ in range(self.critic_steps):
                    with torch.no_grad():
                        gurs = [
                            model.encode(self._batch(d, train[d], rng), d)
                            for d in (0, 1)
                        ]
                    d_loss = self._critic_loss(*gurs)
                    loop.check(d_loss, "d_loss")
                    opt_d.zero_grad()
                    d_loss.backward()
                    opt_d.step()
            loss, gurs = self._reconstruction(users, rng)
            adv = torch.zeros(())
            if D is not None:
                D.requires_grad_(False)
                adv = self._generator_adversarial_loss(D(gurs[0]), D(gurs[1]))
                D.requires_grad_(True)
                if self.adversarial:
                    loss = loss + adv
            if self.overlap_weight > 0 and len(self._overlap):
                seq_a, seq_b = self._overlap_batch(rng)
                loss = loss + self.overlap_weight * F.mse_loss(
                    model.encode(seq_a, 0), model.encode(seq_b, 1)
                )
            loop.check(loss)
            opt_g.zero_grad()
            loss.backward()
            opt_g.step()
            loop.record("g_adv", adv.item())
            if D is not None and (
                (step + 1) % self.eval_every == 0 or step + 1 == self.gan_steps
            ):
                loop.record("d_accuracy", self._discriminator_accuracy(held))
                model.train()
        return loop.history

    def _split_held_out(self, users, rng):
        n_held = max(len(users) // 10, 1) if len(users) > 1 else 0
        order = rng.permutation(users)
        return order[:n_held] if n_held else order, order[n_held:]

    def _discriminator_accuracy(self, held):
        """Share of held-out users' GURs the discriminator attributes right."""
        self.model_.eval()
        self.discriminator_.eval()
        correct = 0
        with torch.no_grad():
            for d in (0, 1):
                logit = self.discriminator_(self._batched(self._gurs, held[d], d))
                correct += int(((logit > 0) == (d == 0)).sum())
        return correct / (len(held[0]) + len(held[1]))

    def _tune(self, users, targets, valid, rng, seed):
        """Phase 3: BPR on next items plus reconstruction, per target domain; only
        the encoder and the targets' embeddings and decoders train."""
        model = self.model_
        trainable = {id(p) for p in model.encoder.parameters()}
        for t in targets:
            for part in (model.embeddings, model.decoders, model.recommenders):
                trainable |= {id(p) for p in part[t].parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in trainable)
        try:
            net = fit_steps(
                TuneStage(model, self.n_bpr_negatives, self.n_recon_negatives),
                self._draws(targets, users, rng),
                n_steps=self.tune_steps,
                eval_every=self.eval_every,
                batch_size=self.batch_size,
                validate=(
                    self._validation(valid, targets) if valid is not None else None
                ),
                stage="tune",
                seed=seed,
                device=self._device,
                lr=self.lr_rec,
                callbacks=self.callbacks,
                verbose=self.verbose,
            )
        finally:
            for p in model.parameters():
                p.requires_grad_(True)
        return net.history

    # --------------------------------------------------------------- inference
    def _eval_mode(self):
        self.model_.eval()

    def _sequence_vectors(self, user_codes, d):
        """Recommendation decoder state after each user's most recent item."""
        m = self.model_
        seq = self._store.padded(d, user_codes, self.max_len, m.eos(d))
        seq = seq.to(self._device)
        return m.next_item_states(seq, seq[:, :-1], d)[:, -1].cpu()

    def _item_vectors(self, d):
        return self.model_.item_vectors(d).cpu()

    def _gurs(self, user_codes, d):
        """The shared encoder's output at EOS for each user's sequence in ``d``."""
        m = self.model_
        seq = self._store.padded(d, user_codes, self.max_len, m.eos(d))
        return m.encode(seq.to(self._device), d).cpu()

    def transform(self, users, domain):
        """Generalised user representations: the shared encoder's output at the
        end of each user's sequence in ``domain``.

        Parameters
        ----------
        users : sequence
        domain : hashable

        Returns
        -------
        Z : ndarray of shape (n_users, d_model)
            NaN rows for users with no history in ``domain``.
        """
        check_is_fitted(self, "model_")
        d = self._index.domain_position(domain)
        codes = self.users_.get_indexer(check_users(users))
        known = self._has_vector(codes, d)
        out = np.full((len(codes), self.d_model), np.nan, dtype=np.float32)
        self.model_.eval()
        if known.any():
            with torch.no_grad():
                out[known] = self._batched(self._gurs, codes[known], d).numpy()
        return out
