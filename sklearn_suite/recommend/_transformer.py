"""Transformer modules of the sequential recommenders: RecGURU's autoencoder
(shared encoder, per-domain decoders) and discriminator, and a SASRec-style
self-attentive baseline.

Sequences are item codes ``1..n`` (0 = padding, ``n + 1`` = end of sequence),
left-padded so that the most recent position is always the last one.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


def attention_mask(seq, n_heads, causal):
    """Boolean self-attention mask (True = blocked) of shape (B * heads, L, L).

    Padding keys are blocked; with ``causal`` so are later positions. A position
    may always attend to itself, so that no row is fully blocked (left padding
    would otherwise give padding rows NaN under a causal mask).
    """
    length = seq.shape[1]
    blocked = (seq == 0)[:, None, :].expand(-1, length, -1)
    if causal:
        later = torch.ones(length, length, dtype=torch.bool, device=seq.device)
        blocked = blocked | later.triu(1)
    blocked = blocked & ~torch.eye(length, dtype=torch.bool, device=seq.device)
    return blocked.repeat_interleave(n_heads, 0)


def _encoder(d_model, n_heads, d_ff, dropout, n_blocks):
    layer = nn.TransformerEncoderLayer(
        d_model, n_heads, d_ff, dropout, batch_first=True
    )
    return nn.TransformerEncoder(layer, n_blocks, enable_nested_tensor=False)


def _decoder(d_model, n_heads, d_ff, dropout, n_blocks):
    layer = nn.TransformerDecoderLayer(
        d_model, n_heads, d_ff, dropout, batch_first=True
    )
    return nn.TransformerDecoder(layer, n_blocks)


class SequenceEmbedding(nn.Module):
    """Item table (padding row 0, end-of-sequence row ``n + 1``) and learned
    positions of one domain."""

    def __init__(self, n_items, d_model, max_len, dropout):
        super().__init__()
        self.items = nn.Embedding(n_items + 2, d_model, padding_idx=0)
        self.positions = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)
        self.scale = math.sqrt(d_model)
        nn.init.normal_(self.items.weight, std=d_model**-0.5)
        with torch.no_grad():
            self.items.weight[0].zero_()

    def forward(self, seq):
        # positions counted from the end, so the last item always has position 0
        length = seq.shape[1]
        pos = torch.arange(length - 1, -1, -1, device=seq.device)
        return self.dropout(self.items(seq) * self.scale + self.positions(pos))


def sampled_softmax_loss(hidden, targets, items, n_negatives):
    """Cross-entropy of each target item against ``n_negatives`` uniformly sampled
    items, over the non-padding positions.

    hidden (B, L, d); targets (B, L) item codes (0 = padding); items: the
    domain's embedding table.
    """
    n_items = items.num_embeddings - 2
    negatives = torch.randint(
        1, n_items + 1, (*targets.shape, n_negatives), device=targets.device
    )
    positive = (hidden * items(targets)).sum(-1, keepdim=True)
    negative = torch.einsum("bld,blnd->bln", hidden, items(negatives))
    logits = torch.cat([positive, negative], -1)
    keep = targets > 0
    labels = torch.zeros(int(keep.sum()), dtype=torch.long, device=targets.device)
    return F.cross_entropy(logits[keep], labels)


def decoder_inputs(targets, start):
    """Teacher forcing: the targets shifted right by one, ``start`` before the
    first item of each (left-padded) row."""
    previous = F.pad(targets, (1, 0))[:, :-1]
    return torch.where(
        previous > 0,
        previous,
        torch.where(targets > 0, start, torch.zeros_like(targets)),
    )


class SequenceAutoencoder(nn.Module):
    """RecGURU's generator: per-domain embeddings, ONE Transformer encoder shared
    by all domains whose output at the end-of-sequence position is the generalised
    user representation (GUR), per-domain Transformer decoders that reconstruct
    the sequence from the GUR, and per-domain recommendation decoders (same
    structure) that predict each next item from the detached GUR.

    The decoders cross-attend to the GUR as a one-token memory (the same as
    attending to the GUR repeated at every position).
    """

    def __init__(self, n_items, d_model, n_blocks, n_heads, d_ff, max_len, dropout):
        super().__init__()
        self.n_heads = n_heads
        self.embeddings = nn.ModuleList(
            SequenceEmbedding(n, d_model, max_len, dropout) for n in n_items
        )
        self.encoder = _encoder(d_model, n_heads, d_ff, dropout, n_blocks)
        self.decoders = nn.ModuleList(
            _decoder(d_model, n_heads, d_ff, dropout, n_blocks) for _ in n_items
        )
        self.recommenders = nn.ModuleList(
            _decoder(d_model, n_heads, d_ff, dropout, n_blocks) for _ in n_items
        )

    def eos(self, d):
        return self.embeddings[d].items.num_embeddings - 1

    def encode(self, seq, d):
        """GUR (B, d_model) of encoder inputs ``seq`` (B, L) ending with EOS."""
        mask = attention_mask(seq, self.n_heads, causal=False)
        return self.encoder(self.embeddings[d](seq), mask=mask)[:, -1]

    def _decode(self, decoder, inputs, gur, d):
        mask = attention_mask(inputs, self.n_heads, causal=True)
        return decoder(self.embeddings[d](inputs), gur[:, None], tgt_mask=mask)

    def reconstruction_loss(self, seq, d, n_negatives, gur=None):
        """Sampled-softmax reconstruction of the items of ``seq`` from its GUR."""
        gur = self.encode(seq, d) if gur is None else gur
        targets = seq[:, :-1]
        inputs = decoder_inputs(targets, self.eos(d))
        hidden = self._decode(self.decoders[d], inputs, gur, d)
        return sampled_softmax_loss(
            hidden, targets, self.embeddings[d].items, n_negatives
        )

    def next_item_states(self, seq, history, d):
        """Recommendation decoder states (B, L', d_model) over ``history``; the
        state at each position scores the item that follows it. The GUR of
        ``seq`` is detached: recommendation does not train the encoder."""
        gur = self.encode(seq, d).detach()
        return self._decode(self.recommenders[d], history, gur, d)

    def item_vectors(self, d):
        """Item embeddings of domain ``d`` (row i = item code i + 1)."""
        return self.embeddings[d].items.weight[1:-1]


class DomainDiscriminator(nn.Module):
    """MLP d -> 5d -> 10d -> 5d -> 1 (ReLU, dropout) giving the logit that a GUR
    comes from domain 0."""

    def __init__(self, d_model, dropout=0.2):
        super().__init__()
        widths = [d_model, 5 * d_model, 10 * d_model, 5 * d_model]
        layers = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
        self.net = nn.Sequential(*layers, nn.Linear(widths[-1], 1))

    def forward(self, z):
        return self.net(z)[:, 0]


def gradient_penalty(discriminator, a, b):
    """``mean (||grad D(x)||_2 - 1)^2`` at random interpolations of two batches."""
    n = min(len(a), len(b))
    alpha = torch.rand(n, 1, device=a.device)
    x = (alpha * a[:n] + (1 - alpha) * b[:n]).requires_grad_(True)
    (grad,) = torch.autograd.grad(
        discriminator(x).sum(), x, create_graph=True, retain_graph=True
    )
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


class SelfAttentiveRecommender(nn.Module):
    """SASRec-style single-domain baseline: item and position embeddings, a causal
    Transformer encoder; the state at each position scores the next item."""

    def __init__(self, n_items, d_model, n_blocks, n_heads, d_ff, max_len, dropout):
        super().__init__()
        self.n_heads = n_heads
        self.embedding = SequenceEmbedding(n_items, d_model, max_len, dropout)
        self.encoder = _encoder(d_model, n_heads, d_ff, dropout, n_blocks)

    def forward(self, history):
        mask = attention_mask(history, self.n_heads, causal=True)
        return self.encoder(self.embedding(history), mask=mask)

    def item_vectors(self):
        return self.embedding.items.weight[1:-1]
