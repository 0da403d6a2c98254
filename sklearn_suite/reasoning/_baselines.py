"""Neural baselines for relational reasoning: an LSTM over the query's relation
path and a relational graph network over the story graph. Both always answer
(no abstention) and learn no explicit rules."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from sklearn_suite.base import TorchEstimatorMixin, check_seed, torch_seeded
from sklearn_suite.reasoning._env import relation_paths
from sklearn_suite.reasoning._r5 import check_stories


class _NeuralReasoner(TorchEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Vocabulary, minibatch training and prediction shared by the baselines."""

    def fit(self, X, y):
        """Fit on stories and their query relations.

        Parameters
        ----------
        X : list of dict
            Stories ``{"edges": [(head, relation, tail), ...], "query": (head,
            tail)}``.
        y : sequence of str

        Returns
        -------
        self : estimator
        """
        check_scalar(self.n_epochs, "n_epochs", numbers.Integral, min_val=1)
        stories = check_stories(X)
        y = list(y)
        if len(y) != len(stories):
            raise ValueError(f"X has {len(stories)} stories but y has {len(y)} labels.")
        self.classes_ = np.array(sorted(set(y)), dtype=object)
        relations = sorted({r for e, _ in stories for _, r, _ in e})
        self._ids = {r: i + 1 for i, r in enumerate(relations)}  # 0: unknown
        targets = torch.as_tensor(
            np.searchsorted(self.classes_.astype(str), np.array(y, dtype=str))
        )
        rng = check_random_state(self.random_state)
        with torch_seeded(check_seed(rng)):
            self.module_ = self._module(len(relations) + 1, len(self.classes_))
            opt = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
            inputs = [self._input(s) for s in stories]
            for _ in range(self.n_epochs):
                self.module_.train()
                order = rng.permutation(len(inputs))
                for start in range(0, len(order), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    logits = self._forward([inputs[i] for i in idx])
                    loss = F.cross_entropy(logits, targets[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        self.module_.eval()
        return self

    def predict(self, X):
        """The relation of each query.

        Parameters
        ----------
        X : list of dict

        Returns
        -------
        y : ndarray of object
        """
        check_is_fitted(self, "module_")
        inputs = [self._input(s) for s in check_stories(X)]
        out = []
        with torch.no_grad():
            for start in range(0, len(inputs), 256):
                logits = self._forward(inputs[start : start + 256])
                out.append(logits.argmax(1).numpy())
        return self.classes_[np.concatenate(out)]


class PathLSTMClassifier(_NeuralReasoner):
    """An LSTM over the relations of the shortest story path from the query's
    head to its tail, classifying the query's relation.

    Parameters
    ----------
    embedding_dim : int, default=32
    hidden_dim : int, default=64
    n_epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-2
    random_state : int, RandomState instance or None, default=None
    """

    def __init__(
        self, embedding_dim=32, hidden_dim=64, n_epochs=30, batch_size=64, lr=1e-2,
        random_state=None,
    ):  # fmt: skip
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state

    def _module(self, n_relations, n_classes):
        return nn.ModuleDict(
            {
                "embed": nn.Embedding(n_relations, self.embedding_dim),
                "lstm": nn.LSTM(self.embedding_dim, self.hidden_dim, batch_first=True),
                "out": nn.Linear(self.hidden_dim, n_classes),
            }
        )

    def _input(self, story):
        paths = relation_paths(*story)
        path = paths[0] if paths else ()
        return torch.as_tensor([self._ids.get(r, 0) for r in path] or [0])

    def _forward(self, batch):
        m = self.module_
        lengths = torch.as_tensor([len(p) for p in batch])
        padded = nn.utils.rnn.pad_sequence(batch, batch_first=True)
        packed = nn.utils.rnn.pack_padded_sequence(
            m["embed"](padded), lengths, batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = m["lstm"](packed)
        return m["out"](hidden[-1])


class StoryGNNClassifier(_NeuralReasoner):
    """A relational graph convolutional network (R-GCN, torch_geometric) over the
    story graph, edges in both directions with their own relation types;
    classifies the query from its two entities' final states.

    Parameters
    ----------
    hidden_dim : int, default=64
    n_layers : int, default=3
    n_epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-2
    random_state : int, RandomState instance or None, default=None
    """

    def __init__(
        self, hidden_dim=64, n_layers=3, n_epochs=30, batch_size=64, lr=1e-2,
        random_state=None,
    ):  # fmt: skip
        self.hidden_dim = hidden_dim
        self.n_layers = n_layers
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state

    def _module(self, n_relations, n_classes):
        from torch_geometric.nn import RGCNConv

        self._n_types = 2 * n_relations
        return nn.ModuleDict(
            {
                "start": nn.Embedding(3, self.hidden_dim),  # other, head, tail
                "convs": nn.ModuleList(
                    RGCNConv(self.hidden_dim, self.hidden_dim, self._n_types)
                    for _ in range(self.n_layers)
                ),
                "out": nn.Linear(2 * self.hidden_dim, n_classes),
            }
        )

    def _input(self, story):
        edges, (head, tail) = story
        nodes = {e: i for i, e in enumerate(dict.fromkeys([head, tail] + [
            x for h, _, t in edges for x in (h, t)]))}  # fmt: skip
        src = [nodes[h] for h, _, _ in edges]
        dst = [nodes[t] for _, _, t in edges]
        rel = [self._ids.get(r, 0) for _, r, _ in edges]
        n_rel = len(self._ids) + 1
        index = torch.as_tensor([src + dst, dst + src])
        types = torch.as_tensor(rel + [r + n_rel for r in rel])
        return len(nodes), index, types

    def _forward(self, batch):
        m = self.module_
        offsets = np.cumsum([0] + [n for n, _, _ in batch])
        index = torch.cat([idx + int(o) for (_, idx, _), o in zip(batch, offsets)], 1)
        types = torch.cat([t for _, _, t in batch])
        role = torch.zeros(int(offsets[-1]), dtype=torch.long)
        role[torch.as_tensor(offsets[:-1])] = 1
        role[torch.as_tensor(offsets[:-1]) + 1] = 2
        h = m["start"](role)
        for conv in m["convs"]:
            h = F.relu(conv(h, index, types))
        starts = torch.as_tensor(offsets[:-1])
        return m["out"](torch.cat([h[starts], h[starts + 1]], 1))
