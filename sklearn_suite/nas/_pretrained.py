"""A GENNAPE predictor pretrained on real, plentiful labels: NAS-Bench-201-space
cells with CIFAR-10 accuracy (``analog-nasbench``) and the digits NAS families,
built with one call and cached in the data home."""

from pathlib import Path

import joblib
import numpy as np
import torch
from joblib import Parallel, delayed

# families a pretraining set may hold, NB-201 first
PRETRAIN_FAMILIES = ("nb201", "cell201", "mbconv", "resnet", "inception")
# the pretrained predictor's budget (about 2.5 minutes on 2 cores for 16,625
# networks; the contrastive epochs set the cost) and its fine-tuning budget: 10
# epochs at 1e-3, chosen on validation targets drawn from the pretraining families
# (benchmarks/results/gennape_validation.md; level with GENNAPE's 100 epochs at
# 1e-4 there, at a tenth of the steps)
PRETRAIN_PARAMS = dict(
    cl_max_epochs=3,
    max_epochs=30,
    batch_size=128,
    finetune_max_epochs=10,
    finetune_lr=1e-3,
)
# bumped when the stored graphs change (2: graph-level features stored)
_CACHE_FORMAT = 2
# bumped when a fitted model's stored attributes change (2: n_proxies_)
_MODEL_FORMAT = 2
_GRAPH_FIELDS = ("x_op", "x_res", "x_kernel", "x_bias", "x_groups", "x_weighted")


def _cache_dir(data_home):
    from sklearn.datasets import get_data_home

    path = Path(get_data_home(data_home)) / "sklearn_suite" / "nas"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save_graphs(graphs, path):
    """Graphs as concatenated tensors plus node and edge counts (safetensors: no
    pickle in the cache)."""
    from safetensors.torch import save_file

    tensors = {f: torch.cat([getattr(g, f) for g in graphs]) for f in _GRAPH_FIELDS}
    tensors["edge_index"] = torch.cat([g.edge_index for g in graphs], 1)
    tensors["oov_rate"] = torch.cat([g.oov_rate for g in graphs])
    tensors["features"] = torch.cat([g.features for g in graphs])
    tensors["n_nodes"] = torch.tensor([g.num_nodes for g in graphs])
    tensors["n_edges"] = torch.tensor([g.edge_index.shape[1] for g in graphs])
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))


def _load_graphs(path):
    from safetensors.torch import load_file
    from torch_geometric.data import Data

    t = load_file(str(path))
    nodes = np.cumsum([0, *t["n_nodes"].tolist()])
    edges = np.cumsum([0, *t["n_edges"].tolist()])
    return [
        Data(
            **{f: t[f][nodes[i] : nodes[i + 1]] for f in _GRAPH_FIELDS},
            edge_index=t["edge_index"][:, edges[i] : edges[i + 1]],
            num_nodes=int(nodes[i + 1] - nodes[i]),
            oov_rate=t["oov_rate"][i : i + 1],
            features=t["features"][i : i + 1],
        )
        for i in range(len(nodes) - 1)
    ]


def family_graphs(family, n=None, random_state=0, data_home=None, n_jobs=None):
    """Computation graphs and accuracies of one NAS family, cached.

    Parameters
    ----------
    family : str
        One of :data:`PRETRAIN_FAMILIES`: ``"nb201"`` reads NAS-Bench-201-space cells
        from ``analog-nasbench`` (traced at 3x32x32 with NB-201's skeleton), the
        others are the digits NAS families (1x8x8).
    n : int, default=None
        For ``"nb201"``: a seeded sample of ``n`` cells (None: all 15,625).
    random_state : int, default=0
        Seeds the NB-201 sample.
    data_home : str or Path, default=None
        Where the cache lives (scikit-learn's data home, under
        ``sklearn_suite/nas``).
    n_jobs : int, default=None
        Processes that trace networks not yet cached.

    Returns
    -------
    graphs : list of torch_geometric.data.Data
    y : ndarray
        Accuracy in percent.
    """
    data = _family_data(family, n, random_state)
    key = joblib.hash([_CACHE_FORMAT, family, [sorted(s.items()) for s in data.specs]])
    path = _cache_dir(data_home) / f"graphs-{family}-{key}.safetensors"
    if path.exists():
        return _load_graphs(path), data.target
    # networks are built inside the workers, a chunk at a time: all 15,625 NB-201
    # networks at once would hold about 25 GB of weights
    chunks = [data.specs[i : i + 500] for i in range(0, len(data.specs), 500)]
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_trace_specs)(chunk, data.input_shape) for chunk in chunks
    )
    graphs = [g for part in parts for g in part]
    _save_graphs(graphs, path)
    return graphs, data.target


def _family_data(family, n=None, random_state=0):
    """The specs and accuracies of a family (see :func:`family_graphs`)."""
    from sklearn_suite.datasets import load_digits_nas
    from sklearn_suite.datasets._digits_nas import read_nb201_analog

    if family not in PRETRAIN_FAMILIES:
        raise ValueError(
            f"unknown family {family!r}; expected one of {PRETRAIN_FAMILIES}"
        )
    if family == "nb201":
        return read_nb201_analog(n=n, random_state=random_state)
    return load_digits_nas(families=[family])


def _trace_specs(specs, input_shape):
    from sklearn_suite.datasets import build_network
    from sklearn_suite.nas._graph import to_graph

    return [to_graph(build_network(s), input_shape) for s in specs]


def pretraining_set(families, n_nb201=None, data_home=None, n_jobs=None):
    """Graphs of several families with each family's accuracy standardised
    (zero mean, unit spread within the family): families trained on different
    data have incomparable accuracy scales, while the rank within a family is what
    transfers.

    Returns
    -------
    graphs : list of Data
    y : ndarray
        Standardised accuracies.
    family : ndarray of str
    """
    graphs, y, family = [], [], []
    for name in families:
        g, acc = family_graphs(name, n_nb201, data_home=data_home, n_jobs=n_jobs)
        graphs += g
        y.append((acc - acc.mean()) / (acc.std() or 1.0))
        family += [name] * len(g)
    return graphs, np.concatenate(y), np.array(family)


def pretrained_gennape(
    *,
    families=PRETRAIN_FAMILIES,
    n_nb201=None,
    data_home=None,
    random_state=0,
    n_jobs=None,
    verbose=0,
    **params,
):
    """A :class:`GENNAPERegressor` pretrained on NB-201-space cells and the digits
    NAS families, built once and cached.

    It predicts how many standard deviations a network's accuracy lies above its
    family's mean: rank candidates with :meth:`~GENNAPERegressor.predict` as it is
    (zero-shot), or :meth:`~GENNAPERegressor.fine_tune` it with
    ``restandardise=True`` on a few labelled networks of a new family to get
    accuracies in that family's units.

    Parameters
    ----------
    families : sequence of str, default=PRETRAIN_FAMILIES
        Families to pretrain on (leave a family out to test transfer to it).
    n_nb201 : int, default=None
        Pretrain on a seeded sample of this many NB-201 cells (None: all 15,625).
        Needs ``analog-nasbench`` when ``"nb201"`` is in ``families``.
    data_home : str or Path, default=None
        Cache folder root (scikit-learn's data home).
    random_state : int, default=0
    n_jobs : int, default=None
        Processes that trace networks the first time.
    verbose : int, default=0
    **params
        Further :class:`GENNAPERegressor` parameters, over :data:`PRETRAIN_PARAMS`
        (they are part of the cache key).

    Returns
    -------
    model : GENNAPERegressor
        Fitted; the same model (bit for bit) for the same arguments.
    """
    from sklearn_suite.nas._gennape import GENNAPERegressor

    families = tuple(families)
    model = GENNAPERegressor(
        **{**PRETRAIN_PARAMS, **params}, random_state=random_state, verbose=verbose
    )
    settings = model.get_params(deep=False)
    for name in ("verbose", "n_jobs"):  # they do not change the model
        del settings[name]
    # the labels are part of the key: a retrained digits table must not be served
    # a model fitted on the old accuracies
    labels = joblib.hash([_family_data(f, n_nb201).target for f in families])
    config = [_MODEL_FORMAT, families, n_nb201, labels, sorted(settings.items())]
    path = _cache_dir(data_home) / f"gennape-{joblib.hash(repr(config))}.safetensors"
    if path.exists():
        return GENNAPERegressor.load(path)
    graphs, y, family = pretraining_set(families, n_nb201, data_home, n_jobs)
    model.fit(graphs, y, groups=family)
    model.save(path)
    return model
