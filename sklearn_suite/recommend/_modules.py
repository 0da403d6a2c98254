"""Torch modules of CAT-ART: BPR matrix factorisation, the contrastive
autoencoder (CAT) and attention-based representation transfer (ART)."""

import torch
import torch.nn.functional as F
from torch import nn

KNOWLEDGE = ("both", "d_sp", "d_in", "none", "concat_target", "concat_all")


def score(users, items):
    """Dot products of user vectors (n, dim) with one item each (n, dim) or a row
    of items each (n, m, dim)."""
    if items.dim() > users.dim():
        users = users[:, None]
    return (users * items).sum(-1)


class ItemScores(nn.Module):
    """Item embeddings, optionally with a learned per-item bias, scoring user
    vectors by dot product (plus the bias)."""

    def __init__(self, init, bias_init=None):
        super().__init__()
        self.items = nn.Embedding.from_pretrained(init.clone(), freeze=False)
        self.bias = (
            None
            if bias_init is None
            else nn.Embedding.from_pretrained(bias_init.clone(), freeze=False)
        )

    def forward(self, users, items):
        out = score(users, self.items(items))
        return out if self.bias is None else out + self.bias(items)[..., 0]

    def rank_users(self, users):
        """User vectors such that ``rank_users(u) @ rank_items().T`` are the
        scores (a column of ones meets the bias)."""
        if self.bias is None:
            return users
        return torch.cat([users, torch.ones_like(users[:, :1])], 1)

    def rank_items(self):
        if self.bias is None:
            return self.items.weight
        return torch.cat([self.items.weight, self.bias.weight], 1)


class BPRMF(nn.Module):
    """User and item embeddings scored by dot product (plus an item bias when
    ``bias``)."""

    def __init__(self, n_users, n_items, dim, bias=False):
        super().__init__()
        self.users = nn.Embedding(n_users, dim)
        nn.init.normal_(self.users.weight, std=0.1)
        self.scores = ItemScores(
            torch.randn(n_items, dim) * 0.1, torch.zeros(n_items, 1) if bias else None
        )

    @property
    def items(self):
        return self.scores.items

    def forward(self, users, items):
        return self.scores(self.users(users), items)


class ContrastiveAutoencoder(nn.Module):
    """CAT: an MLP autoencoder over the concatenated per-domain user embeddings,
    trained on original and domain-masked views.

    Domains where a user has no interaction hold a learnable pad vector; the
    masked view replaces one present domain per user by a learnable mask vector.
    """

    def __init__(self, n_domains, dim):
        super().__init__()
        width = n_domains * dim
        self.encoder = nn.Sequential(
            nn.Linear(width, width),
            nn.PReLU(),
            nn.Linear(width, 3 * dim),
            nn.PReLU(),
            nn.Linear(3 * dim, dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(dim, 3 * dim),
            nn.PReLU(),
            nn.Linear(3 * dim, width),
            nn.PReLU(),
            nn.Linear(width, width),
        )
        self.mask = nn.Parameter(0.1 * torch.randn(dim))
        self.pad = nn.Parameter(0.1 * torch.randn(dim))

    def view(self, emb, present, masked=None):
        """(B, D, dim) embeddings -> (B, D*dim) input; ``masked`` (B,) domain
        indices to replace by the mask vector (None: the original view)."""
        x = torch.where(present[..., None], emb, self.pad)
        if masked is not None:
            onehot = F.one_hot(masked, emb.shape[1]).bool()[..., None]
            x = torch.where(onehot, self.mask, x)
        return x.flatten(1)

    def encode(self, emb, present):
        return self.encoder(self.view(emb, present))

    def losses(self, emb, present, masked, temperature):
        """``(L_CL, L_rec1, L_rec2)``: symmetric InfoNCE between the original and
        masked view of each user (in-batch negatives), and the reconstruction of
        the unmasked input from each view (present domains only)."""
        z_orig = self.encoder(self.view(emb, present))
        z_mask = self.encoder(self.view(emb, present, masked))
        sim = F.normalize(z_orig, dim=1) @ F.normalize(z_mask, dim=1).T / temperature
        labels = torch.arange(len(sim), device=sim.device)
        l_cl = (F.cross_entropy(sim, labels) + F.cross_entropy(sim.T, labels)) / 2
        weight = present[..., None].expand_as(emb).flatten(1).float()
        target = emb.flatten(1)

        def rec(z):
            return ((self.decoder(z) - target) ** 2 * weight).sum() / weight.sum()

        return l_cl, rec(z_orig), rec(z_mask)

    def loss(self, emb, present, masked, temperature, weights):
        """``w_cl * L_CL + w_rec1 * L_rec1 + w_rec2 * L_rec2``."""
        parts = self.losses(emb, present, masked, temperature)
        return sum(w * part for w, part in zip(weights, parts))


class AttentiveTransfer(nn.Module):
    """ART for one target domain: the user's target embedding queries attention
    over linearly adapted source-domain embeddings; the adapted global (CAT)
    embedding and the target embedding are added (``knowledge="both"``).

    ``"d_sp"`` keeps target + attention, ``"d_in"`` target + global, ``"none"``
    the target embedding alone; ``"concat_target"`` is target + Linear(concat of
    sources) and ``"concat_all"`` Linear(concat of all domains) (the paper's
    concatenation baselines).
    """

    def __init__(
        self, n_domains, target, dim, item_init, knowledge, dropout=0.1,
        bias_init=None,
    ):  # fmt: skip
        super().__init__()
        self.target = target
        self.sources = [d for d in range(n_domains) if d != target]
        self.knowledge = knowledge
        self.scores = ItemScores(item_init, bias_init)
        self.adapters = nn.ModuleList(nn.Linear(dim, dim) for _ in self.sources)
        self.attention = nn.MultiheadAttention(
            dim, 1, dropout=dropout, batch_first=True
        )
        self.global_adapter = nn.Linear(dim, dim)
        if knowledge == "concat_target":
            self.concat = nn.Linear(len(self.sources) * dim, dim)
        elif knowledge == "concat_all":
            self.concat = nn.Linear(n_domains * dim, dim)

    def transfer(self, emb, present):
        """Attention of the target embedding over the adapted source embeddings;
        zero for users present in no source domain."""
        query = emb[:, self.target][:, None]
        keys = torch.stack(
            [adapt(emb[:, s]) for adapt, s in zip(self.adapters, self.sources)], 1
        )
        absent = ~present[:, self.sources]
        none = absent.all(1)
        absent = absent & ~none[:, None]  # an all-masked row would give NaN
        out = self.attention(query, keys, keys, key_padding_mask=absent)[0][:, 0]
        return torch.where(none[:, None], torch.zeros_like(out), out)

    def user_vectors(self, emb, present, global_emb):
        e_t = emb[:, self.target]
        if self.knowledge == "none":
            return e_t
        if self.knowledge == "concat_target":
            return e_t + self.concat(emb[:, self.sources].flatten(1))
        if self.knowledge == "concat_all":
            return self.concat(emb.flatten(1))
        out = e_t
        if self.knowledge in ("both", "d_sp"):
            out = out + self.transfer(emb, present)
        if self.knowledge in ("both", "d_in"):
            out = out + self.global_adapter(global_emb)
        return out

    def forward(self, emb, present, global_emb, items):
        return self.scores(self.user_vectors(emb, present, global_emb), items)

    @property
    def items(self):
        return self.scores.items
