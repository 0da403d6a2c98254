"""Neural baselines for relational reasoning: an LSTM over the query's relation
path and a relational graph network over the story graph. Both always answer
(no abstention) and learn no explicit rules; both train through the library's
skorch engine."""

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    POSITIVE,
    POSITIVE_INT,
    ItemDataset,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    fit_method,
    fit_net,
    make_net,
    torch_seeded,
)
from sklearn_suite.reasoning._env import relation_paths
from sklearn_suite.reasoning._r5 import check_stories

_COMMON_PARAMS = """max_epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-2
        Adam's learning rate.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of the training net (they see every epoch).
    device : str, default="cpu"
    verbose : int, default=0
        1 shows a progress bar over epochs.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    classes_ : ndarray of object
        The relations seen in ``y``.
    net_ : skorch.NeuralNet
        The trained net.
    history_ : skorch.History
        Per-epoch training loss."""


class PathLSTM(nn.Module):
    """Relation embeddings, an LSTM over the path, a linear classifier."""

    def __init__(self, n_relations, n_classes, embedding_dim=32, hidden_dim=64):
        super().__init__()
        self.embed = nn.Embedding(n_relations, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.out = nn.Linear(hidden_dim, n_classes)

    def forward(self, path, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(path), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)
        return self.out(hidden[-1])


def path_batch(items):
    """``(path ids, target)`` pairs -> ``({"path", "lengths"}, targets)``."""
    paths, targets = zip(*items)
    return {
        "path": nn.utils.rnn.pad_sequence(paths, batch_first=True),
        "lengths": torch.as_tensor([len(p) for p in paths]),
    }, torch.as_tensor(targets)


class StoryRGCN(nn.Module):
    """R-GCN over a batch of story graphs (torch_geometric); node roles (other,
    head, tail) as start states; classifies from the head's and tail's states."""

    def __init__(self, n_relations, n_classes, hidden_dim=64, n_layers=3):
        from torch_geometric.nn import RGCNConv

        super().__init__()
        self.start = nn.Embedding(3, hidden_dim)
        self.convs = nn.ModuleList(
            RGCNConv(hidden_dim, hidden_dim, 2 * n_relations) for _ in range(n_layers)
        )
        self.out = nn.Linear(2 * hidden_dim, n_classes)

    def forward(self, graphs):
        h = self.start(graphs.role)
        for conv in self.convs:
            h = F.relu(conv(h, graphs.edge_index, graphs.edge_type))
        heads = graphs.ptr[:-1]  # the head is node 0 and the tail node 1 of a story
        return self.out(torch.cat([h[heads], h[heads + 1]], 1))


def graph_batch(items):
    """``(story graph, target)`` pairs -> ``(torch_geometric Batch, targets)``."""
    from torch_geometric.data import Batch

    graphs, targets = zip(*items)
    return Batch.from_data_list(list(graphs)), torch.as_tensor(targets)


class _NeuralReasoner(TorchEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Vocabulary, training and prediction shared by the baselines; a subclass
    gives its module (``_module``), the input of one story (``_input``) and the
    collate function of a batch (``_collate``)."""

    _parameter_constraints: dict = {
        "max_epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "lr": [POSITIVE],
        **COMMON_CONSTRAINTS,
    }

    @fit_method
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
        stories = check_stories(X)
        y = list(y)
        if len(y) != len(stories):
            raise ValueError(f"X has {len(stories)} stories but y has {len(y)} labels.")
        classes = np.array(sorted(set(y)), dtype=object)
        relations = sorted({r for e, _ in stories for _, r, _ in e})
        ids = {r: i + 1 for i, r in enumerate(relations)}  # 0: unknown
        targets = np.searchsorted(classes.astype(str), np.array(y, dtype=str))
        seed = check_seed(self.random_state)
        device = check_device(self.device)
        with torch_seeded(seed, device):
            net = self._new_net(len(relations) + 1, len(classes), seed, device)
            data = ItemDataset([self._input(s, ids) for s in stories], targets)
            fit_net(net, data)
        self.classes_, self.relation_ids_, self.net_ = classes, ids, net
        self.history_ = net.history
        return self

    def _new_net(self, n_relations, n_classes, seed, device):
        return make_net(
            self._module(n_relations, n_classes),
            stage=type(self).__name__,
            seed=seed,
            device=device,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            collate=self._collate,
            callbacks=self.callbacks,
            verbose=self.verbose,
        )

    def _rebuild_modules(self):
        """For :meth:`load`: the net of a fitted baseline, weights to be loaded."""
        self.net_ = self._new_net(
            len(self.relation_ids_) + 1,
            len(self.classes_),
            0,
            check_device(self.device),
        )
        self.net_.initialize()

    def predict(self, X):
        """The relation of each query.

        Parameters
        ----------
        X : list of dict

        Returns
        -------
        y : ndarray of object
        """
        check_is_fitted(self, "net_")
        inputs = [self._input(s, self.relation_ids_) for s in check_stories(X)]
        logits = self.net_.forward(ItemDataset(inputs), training=False)
        return self.classes_[logits.argmax(1).cpu().numpy()]


class PathLSTMClassifier(_NeuralReasoner):
    """An LSTM over the relations of the shortest story path from the query's
    head to its tail, classifying the query's relation.

    Parameters
    ----------
    embedding_dim : int, default=32
    hidden_dim : int, default=64
    """

    __doc__ += _COMMON_PARAMS
    _collate = staticmethod(path_batch)
    _parameter_constraints: dict = {
        **_NeuralReasoner._parameter_constraints,
        "embedding_dim": [POSITIVE_INT],
        "hidden_dim": [POSITIVE_INT],
    }

    def __init__(
        self, *, embedding_dim=32, hidden_dim=64, max_epochs=30, batch_size=64,
        lr=1e-2, callbacks=None, device="cpu", verbose=0, random_state=None,
    ):  # fmt: skip
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _module(self, n_relations, n_classes):
        return PathLSTM(n_relations, n_classes, self.embedding_dim, self.hidden_dim)

    @staticmethod
    def _input(story, ids):
        paths = relation_paths(*story, max_paths=1)
        path = paths[0] if paths else ()
        return torch.as_tensor([ids.get(r, 0) for r in path] or [0])


class StoryGNNClassifier(_NeuralReasoner):
    """A relational graph convolutional network (R-GCN, torch_geometric) over the
    story graph, edges in both directions with their own relation types;
    classifies the query from its two entities' final states.

    Parameters
    ----------
    hidden_dim : int, default=64
    n_layers : int, default=3
    """

    __doc__ += _COMMON_PARAMS
    _collate = staticmethod(graph_batch)
    _parameter_constraints: dict = {
        **_NeuralReasoner._parameter_constraints,
        "hidden_dim": [POSITIVE_INT],
        "n_layers": [POSITIVE_INT],
    }

    def __init__(
        self, *, hidden_dim=64, n_layers=3, max_epochs=30, batch_size=64, lr=1e-2,
        callbacks=None, device="cpu", verbose=0, random_state=None,
    ):  # fmt: skip
        self.hidden_dim = hidden_dim
        self.n_layers = n_layers
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _module(self, n_relations, n_classes):
        return StoryRGCN(n_relations, n_classes, self.hidden_dim, self.n_layers)

    @staticmethod
    def _input(story, ids):
        from torch_geometric.data import Data

        edges, (head, tail) = story
        nodes = {e: i for i, e in enumerate(dict.fromkeys([head, tail] + [
            x for h, _, t in edges for x in (h, t)]))}  # fmt: skip
        src = [nodes[h] for h, _, _ in edges]
        dst = [nodes[t] for _, _, t in edges]
        rel = [ids.get(r, 0) for _, r, _ in edges]
        n_rel = len(ids) + 1
        role = torch.zeros(len(nodes), dtype=torch.long)
        role[0], role[1] = 1, 2  # head, tail
        return Data(
            role=role,
            edge_index=torch.as_tensor([src + dst, dst + src], dtype=torch.long),
            edge_type=torch.as_tensor(rel + [r + n_rel for r in rel]),
            num_nodes=len(nodes),
        )
