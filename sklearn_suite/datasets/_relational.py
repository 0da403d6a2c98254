"""Readers of relational reasoning benchmarks: CLUTRR CSV files and GraphLog
jsonl files, into R5RuleLearner's story format.

Malformed content is reported as one ``ValueError`` naming the file and the line
(CSV data rows count from line 2, after the header)."""

import ast
import io
import json

import pandas as pd

from sklearn_suite.datasets._files import malformed, read_text


def _relation(value, path, line, what):
    if not isinstance(value, str) or not value:
        raise malformed(path, line, f"{what} must be a relation name; got {value!r}.")
    return value


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

    Raises
    ------
    ValueError
        On malformed content, naming the file and the line.
    """
    text = read_text(path)  # checks the encoding and emptiness once
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise malformed(path, None, f"not a CSV table ({exc}).") from exc
    missing = {"story_edges", "edge_types", "query_edge", "target"} - set(frame)
    if missing:
        raise malformed(path, 1, f"lacks the CLUTRR columns {sorted(missing)}.")
    X, y = [], []
    for line, row in enumerate(frame.itertuples(index=False), start=2):
        try:
            edges = ast.literal_eval(row.story_edges)
            types = ast.literal_eval(row.edge_types)
            query = tuple(ast.literal_eval(row.query_edge))
        except (ValueError, SyntaxError, TypeError) as exc:
            raise malformed(path, line, f"unreadable edges or query ({exc}).") from exc
        if len(edges) != len(types):
            raise malformed(
                path, line, f"{len(edges)} edges but {len(types)} edge types."
            )
        if any(len(edge) != 2 for edge in edges) or len(query) != 2:
            raise malformed(path, line, "edges and the query must be node pairs.")
        X.append(
            {
                "edges": [
                    (a, _relation(r, path, line, "an edge type"), b)
                    for (a, b), r in zip(edges, types)
                ],
                "query": query,
            }
        )
        y.append(_relation(row.target, path, line, "the target"))
    return X, y


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

    Raises
    ------
    ValueError
        On malformed content, naming the file and the line.
    """
    X, y = [], []
    for line, text in enumerate(read_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
            edges, query, target = row["edges"], row["query"], row["target"]
        except json.JSONDecodeError as exc:
            raise malformed(path, line, f"not JSON ({exc.msg}).") from exc
        except (KeyError, TypeError) as exc:
            raise malformed(
                path, line, f"a graph needs edges, query and target ({exc!r})."
            ) from exc
        if not isinstance(edges, list) or any(
            not isinstance(e, list) or len(e) != 3 for e in edges
        ):
            raise malformed(path, line, "edges must be [src, dst, relation] triples.")
        if not isinstance(query, list) or len(query) < 2:
            raise malformed(path, line, "query must be [head, tail].")
        X.append(
            {
                "edges": [
                    (src, _relation(rel, path, line, "a relation"), dst)
                    for src, dst, rel in edges
                ],
                "query": (query[0], query[1]),
            }
        )
        y.append(_relation(target, path, line, "the target"))
    if not X:
        raise malformed(path, None, "no graph in the file.")
    return X, y
