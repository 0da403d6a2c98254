"""NAS performance predictors on computation graphs: GENNAPE (and the general-purpose
CG + contrastive predictor) and AIO-P."""

from sklearn_suite.nas._aiop import FINETUNE_MODES, TARGET_TRANSFORMS, AIOPRegressor
from sklearn_suite.nas._gennape import GENNAPERegressor
from sklearn_suite.nas._graph import (
    GRAPH_FEATURES,
    VOCAB,
    GraphConversionError,
    graph_depth,
    graph_features,
    graph_flops,
    graph_params,
    graph_summary,
    to_graph,
    to_graphs,
    to_networkx,
)
from sklearn_suite.nas._plot import plot_predicted_vs_true
from sklearn_suite.nas._pretrained import (
    PRETRAIN_FAMILIES,
    PRETRAIN_PARAMS,
    family_graphs,
    pretrained_gennape,
    pretraining_set,
)
from sklearn_suite.nas._proxies import count_params, jacov_score, synflow_score

__all__ = [
    "AIOPRegressor",
    "FINETUNE_MODES",
    "TARGET_TRANSFORMS",
    "GENNAPERegressor",
    "GRAPH_FEATURES",
    "PRETRAIN_FAMILIES",
    "PRETRAIN_PARAMS",
    "VOCAB",
    "GraphConversionError",
    "count_params",
    "family_graphs",
    "graph_depth",
    "graph_features",
    "graph_flops",
    "graph_params",
    "graph_summary",
    "jacov_score",
    "plot_predicted_vs_true",
    "pretrained_gennape",
    "pretraining_set",
    "synflow_score",
    "to_graph",
    "to_graphs",
    "to_networkx",
]
