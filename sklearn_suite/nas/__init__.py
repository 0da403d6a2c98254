"""NAS performance predictors on computation graphs: GENNAPE (and the general-purpose
CG + contrastive predictor) and AIO-P."""

from sklearn_suite.nas._aiop import FINETUNE_MODES, TARGET_TRANSFORMS, AIOPRegressor
from sklearn_suite.nas._gennape import GENNAPERegressor
from sklearn_suite.nas._graph import (
    VOCAB,
    GraphConversionError,
    graph_flops,
    graph_summary,
    to_graph,
    to_graphs,
    to_networkx,
)
from sklearn_suite.nas._plot import plot_predicted_vs_true
from sklearn_suite.nas._proxies import count_params, jacov_score, synflow_score

__all__ = [
    "AIOPRegressor",
    "FINETUNE_MODES",
    "TARGET_TRANSFORMS",
    "GENNAPERegressor",
    "VOCAB",
    "GraphConversionError",
    "count_params",
    "graph_flops",
    "graph_summary",
    "jacov_score",
    "plot_predicted_vs_true",
    "synflow_score",
    "to_graph",
    "to_graphs",
    "to_networkx",
]
