"""Torch modules for character-level taggers: the shared encoder, Mulco's scope
heads and the two baselines' heads."""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sklearn_suite.ner._features import WORD_SETS
from sklearn_suite.ner._scopes import SEQUENCES


class CharEncoder(nn.Module):
    """Character embeddings (random init) and a BiLSTM, or a small Transformer.

    Output: ``(batch, L, 2 * hidden)`` features.
    """

    def __init__(
        self,
        vocab_size,
        emb_dim=128,
        hidden=128,
        layers=2,
        dropout=0.3,
        kind="bilstm",
        max_length=512,
        n_bigrams=0,
        n_words=0,
        word_dim=50,
        pretrained=None,
        special_ids=None,
        load_weights=True,
    ):
        super().__init__()
        self.kind = kind
        if pretrained is None:
            self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=0)
            in_dim = emb_dim
        else:
            self.pretrained = _pretrained_model(pretrained, load_weights)
            self.special_ids = special_ids
            in_dim = self.pretrained.config.hidden_size
        if n_bigrams:
            self.bigram_embed = nn.Embedding(n_bigrams, emb_dim, padding_idx=0)
            in_dim += emb_dim
        if n_words:
            self.word_embed = nn.Embedding(n_words, word_dim, padding_idx=0)
            in_dim += WORD_SETS * word_dim
        self.dropout = nn.Dropout(dropout)
        self.out_dim = 2 * hidden
        if kind == "bilstm":
            self.rnn = nn.LSTM(
                in_dim,
                hidden,
                layers,
                batch_first=True,
                bidirectional=True,
                dropout=dropout if layers > 1 else 0.0,
            )
        else:
            self.position = nn.Embedding(max_length, emb_dim)
            layer = nn.TransformerEncoderLayer(
                emb_dim,
                nhead=4,
                dim_feedforward=2 * emb_dim,
                dropout=dropout,
                batch_first=True,
            )
            self.transformer = nn.TransformerEncoder(
                layer, layers, enable_nested_tensor=False
            )
            self.project = nn.Linear(emb_dim, self.out_dim)
            self.fuse = nn.Linear(in_dim, emb_dim) if in_dim != emb_dim else None

    def inputs(self, ids, lengths, bigrams=None, words=None, word_weights=None):
        """Per-character input vectors: the character's embedding, its bigram's
        and the SoftLexicon pooling of its B/M/E/S word sets, concatenated."""
        if hasattr(self, "embed"):
            parts = [self.embed(ids)]
        else:
            parts = [self.contextual(ids, lengths.to(ids.device))]
        if bigrams is not None:
            parts.append(self.bigram_embed(bigrams))
        if words is not None:
            # each set: the frequency-weighted sum of its words' embeddings,
            # all four scaled by 4 / (total weight), as in SoftLexicon
            pooled = (self.word_embed(words) * word_weights.unsqueeze(-1)).sum(-2)
            total = word_weights.sum((-1, -2)).clamp_min(1e-6)
            pooled = pooled * (WORD_SETS / total)[..., None, None]
            parts.append(pooled.flatten(-2))
        return torch.cat(parts, -1)

    def contextual(self, ids, lengths):
        """The pretrained model's states of the characters, read with [CLS]
        before and [SEP] after each sentence (as it was pretrained)."""
        cls, sep = self.special_ids
        n, longest = ids.shape
        full = ids.new_zeros(n, longest + 2)
        full[:, 0], full[:, 1 : longest + 1] = cls, ids
        full[torch.arange(n, device=ids.device), lengths + 1] = sep
        mask = (
            torch.arange(longest + 2, device=ids.device)[None] < (lengths + 2)[:, None]
        )
        states = self.pretrained(input_ids=full, attention_mask=mask.long())
        return states.last_hidden_state[:, 1 : longest + 1]

    def forward(self, ids, lengths, **features):
        x = self.dropout(self.inputs(ids, lengths, **features))
        if self.kind == "bilstm" and self.training:
            packed = pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            out, _ = self.rnn(packed)
            out, _ = pad_packed_sequence(
                out, batch_first=True, total_length=ids.shape[1]
            )
        elif self.kind == "bilstm":
            out = dense_bilstm(self.rnn, x, lengths.to(x.device))
        else:
            positions = torch.arange(ids.shape[1], device=ids.device)
            if self.fuse is not None:
                x = self.fuse(x)
            out = self.transformer(
                x + self.position(positions), src_key_padding_mask=ids == 0
            )
            out = self.project(out)
        return self.dropout(out)


def reverse_within(x, lengths):
    """Each sequence of ``x`` (batch, L, ...) reversed within its own length;
    the padding after it stays in place."""
    t = torch.arange(x.shape[1], device=x.device)[None]
    last = lengths[:, None] - 1
    index = torch.where(t <= last, last - t, t)
    return x.gather(1, index.view(*index.shape, *[1] * (x.dim() - 2)).expand_as(x))


def dense_bilstm(rnn, x, lengths):
    """Inference of a bidirectional ``nn.LSTM`` on a padded batch, equal to the
    packed-sequence result at every real position but faster on CPU (packed
    input rules out oneDNN's fused kernel): each layer runs forwards on the
    padded batch (padding only follows the real steps) and backwards on the
    sequences reversed within their lengths. Dropout between layers is off, as
    in ``eval`` mode."""
    device = x.device.type
    if torch.is_autocast_enabled(device):
        # oneDNN has no LSTM for a float32 input under bfloat16 autocast on CPUs
        # without native bfloat16 (it raises); a bfloat16 input runs everywhere
        x = x.to(torch.get_autocast_dtype(device))
    zeros = x.new_zeros(1, x.shape[0], rnn.hidden_size)
    for layer in range(rnn.num_layers):
        outs = []
        for suffix in ("", "_reverse"):
            weights = [
                getattr(rnn, f"{kind}_l{layer}{suffix}")
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            ]
            inp = reverse_within(x, lengths) if suffix else x
            # (input, (h0, c0), weights, has_biases, layers, dropout, train,
            #  bidirectional, batch_first)
            out = torch.lstm(
                inp, (zeros, zeros), weights, True, 1, 0.0, False, False, True
            )[0]
            outs.append(reverse_within(out, lengths) if suffix else out)
        x = torch.cat(outs, -1)
    return x


def _pretrained_model(name_or_path, load_weights):
    """The Hugging Face model: its pretrained weights for ``fit``; only its
    architecture when a saved tagger is loaded (the weights come from the file)."""
    from transformers import AutoConfig, AutoModel

    if load_weights:
        return AutoModel.from_pretrained(name_or_path)
    return AutoModel.from_config(AutoConfig.from_pretrained(name_or_path))


class _ScopeHead(nn.Module):
    """B or E scope: GELU(Linear(feat)) -> category and length logits."""

    def __init__(self, in_dim, latent, n_categories, n_lengths):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(in_dim, latent), nn.GELU())
        self.category = nn.Linear(latent, n_categories)
        self.length = nn.Linear(latent, n_lengths)

    def latent(self, feat):
        return self.hidden(feat)

    def forward(self, feat):
        h = self.latent(feat)
        return self.category(h), self.length(h)

    def labels(self, feat):
        """Prediction: the most probable category, the most probable length and
        the probability of that (category, length) label. Length and probability
        are computed at entity anchors only (0 where the category is O, which
        decoding never reads). Probabilities are float32 whatever the autocast
        precision of the logits."""
        hidden = self.latent(feat)
        logits = self.category(hidden)
        cat = logits.argmax(-1)
        length = torch.zeros_like(cat)
        conf = torch.zeros(cat.shape, device=cat.device)
        anchor = cat != 0
        if anchor.any():
            cat_conf = logits[anchor].float().softmax(-1).amax(-1)
            len_logits = self.length(hidden[anchor]).float()
            len_conf, length[anchor] = len_logits.softmax(-1).max(-1)
            conf[anchor] = cat_conf * len_conf
        return cat, length, conf


class _CentreHead(_ScopeHead):
    """C scope over 2L - 1 positions: characters through Linear(feat), the gaps
    between characters i and i + 1 through Linear([feat_i, feat_{i+1}]),
    interleaved."""

    def __init__(self, in_dim, latent, n_categories, n_lengths):
        super().__init__(in_dim, latent, n_categories, n_lengths)
        self.gap = nn.Sequential(nn.Linear(2 * in_dim, latent), nn.GELU())

    def latent(self, feat):
        chars = self.hidden(feat)
        gaps = self.gap(torch.cat([feat[:, :-1], feat[:, 1:]], dim=-1))
        batch, length, dim = chars.shape
        out = chars.new_zeros(batch, 2 * length - 1, dim)
        out[:, 0::2] = chars
        out[:, 1::2] = gaps
        return out


class MulcoNet(nn.Module):
    """Encoder plus one head per selected label sequence (Bmin ... Cmax)."""

    def __init__(self, encoder, n_categories, max_entity_length, latent, scopes):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict(
            {
                name: (_CentreHead if name[0] == "C" else _ScopeHead)(
                    encoder.out_dim, latent, n_categories, max_entity_length + 1
                )
                for name in SEQUENCES
                if name[0] in scopes
            }
        )

    def forward(self, ids, lengths, **features):
        feat = self.encoder(ids, lengths, **features)
        return {name: head(feat) for name, head in self.heads.items()}

    def labels(self, ids, lengths, **features):
        """Prediction: per sequence, the (category, length, confidence) of
        :meth:`_ScopeHead.labels`."""
        feat = self.encoder(ids, lengths, **features)
        return {name: head.labels(feat) for name, head in self.heads.items()}


class BIESNet(nn.Module):
    """Encoder plus a per-character BIES tag classifier (the flat baseline)."""

    def __init__(self, encoder, n_tags):
        super().__init__()
        self.encoder = encoder
        self.tags = nn.Linear(encoder.out_dim, n_tags)

    def forward(self, ids, lengths, **features):
        return self.tags(self.encoder(ids, lengths, **features))


class SpanNet(nn.Module):
    """Encoder plus a classifier of every span up to a maximum width from its end
    features and a width embedding (the span-enumeration baseline)."""

    def __init__(self, encoder, n_categories, max_entity_length, latent):
        super().__init__()
        self.encoder = encoder
        self.max_entity_length = max_entity_length
        self.width = nn.Embedding(max_entity_length + 1, 32)
        self.classify = nn.Sequential(
            nn.Linear(2 * encoder.out_dim + 32, latent),
            nn.GELU(),
            nn.Linear(latent, n_categories),
        )

    def forward(self, ids, lengths, spans=None, **features):
        """``spans``: (n, 3) or (batch, K, 3) rows of (sentence, start, end
        inclusive); None
        classifies every span up to ``max_entity_length`` (see
        :func:`enumerate_spans`), in that order."""
        if spans is None:
            spans = enumerate_spans(lengths, self.max_entity_length).to(ids.device)
        spans = spans.reshape(-1, 3)  # training batches come as (n, K, 3)
        feat = self.encoder(ids, lengths, **features)
        b, s, e = spans.unbind(1)
        rep = torch.cat([feat[b, s], feat[b, e], self.width(e - s + 1)], dim=-1)
        return self.classify(rep)


def enumerate_spans(lengths, max_width):
    """Every (sentence, start, end inclusive) span up to ``max_width`` characters."""
    rows = []
    for b, length in enumerate(lengths.tolist()):
        for s in range(length):
            for e in range(s, min(length, s + max_width)):
                rows.append((b, s, e))
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 3)
