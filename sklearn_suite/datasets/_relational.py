"""Readers of relational reasoning benchmarks: CLUTRR CSV files and GraphLog
jsonl files, into R5RuleLearner's story format."""

import ast
import json
from pathlib import Path

import pandas as pd


def read_clutrr(path):
    """Read a CLUTRR CSV file (columns ``story_edges``, ``edge_types``,
    ``query_edge``, ``target``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    X : list of dict
        Stories ``{"edges": [(head, relation, tail), ...], "query": (head,
        tail)}``; entities are the file's node indices.
    y : list of str
        Target relations.
    """
    frame = pd.read_csv(path)
    missing = {"story_edges", "edge_types", "query_edge", "target"} - set(frame)
    if missing:
        raise ValueError(f"{path} lacks the CLUTRR columns {sorted(missing)}.")
    X = []
    for edges, types, query in zip(
        frame["story_edges"], frame["edge_types"], frame["query_edge"]
    ):
        edges, types = ast.literal_eval(edges), ast.literal_eval(types)
        if len(edges) != len(types):
            raise ValueError(
                f"{path}: a story has {len(edges)} edges, {len(types)} types."
            )
        X.append(
            {
                "edges": [(a, r, b) for (a, b), r in zip(edges, types)],
                "query": tuple(ast.literal_eval(query)),
            }
        )
    return X, frame["target"].tolist()


def read_graphlog(path):
    """Read a GraphLog jsonl file (one graph per line with ``edges`` as
    ``[src, dst, relation]``, ``query`` and ``target``).

    Only the edges and the query are kept; the ground-truth rule annotations
    (``rules_used``, ``resolution_path``) are left out so that they cannot leak
    into training.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    X : list of dict
    y : list of str
    """
    X, y = [], []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        X.append(
            {
                "edges": [(src, rel, dst) for src, dst, rel in row["edges"]],
                "query": (row["query"][0], row["query"][1]),
            }
        )
        y.append(row["target"])
    return X, y
