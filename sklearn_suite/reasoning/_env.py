"""R5's environment: reduce relation paths by merging an adjacent relation pair
into the head the rule memory gives it (or a fresh invented predicate while
learning), until one path has a single relation."""

import dataclasses

import networkx as nx
import numpy as np

N_FEATURES = 8


def relation_paths(edges, query, max_paths=None):
    """Relation sequences of every shortest directed path from the query's head
    to its tail (parallel edges give one sequence each).

    Parameters
    ----------
    edges : list of (head, relation, tail)
    query : (head, tail)
    max_paths : int or None, default=None
        Stop after this many relation sequences (a story whose shortest paths
        multiply at every hop has exponentially many); None enumerates all.

    Returns
    -------
    paths : list of tuple
        Relations along each path, at most ``max_paths``; empty when the tail is
        unreachable.
    """
    graph = nx.MultiDiGraph()
    for h, r, t in edges:
        graph.add_edge(h, t, relation=r)
    source, target = query
    if source not in graph or target not in graph or source == target:
        return []
    limit = float("inf") if max_paths is None else max_paths
    out = set()
    try:
        # a generator: a capped enumeration never builds the whole list
        for nodes in nx.all_shortest_paths(graph, source, target):
            seqs = [()]
            for a, b in zip(nodes, nodes[1:]):
                rels = sorted(
                    {d["relation"] for d in graph.get_edge_data(a, b).values()}
                )
                seqs = [s + (r,) for s in seqs for r in rels][: int(min(limit, 1e9))]
            out.update(seqs)
            if len(out) >= limit:
                break
    except nx.NetworkXNoPath:
        return []
    return sorted(out)[: int(min(limit, 1e9))]


@dataclasses.dataclass(frozen=True)
class State:
    """Paths being reduced, the rules created so far in this episode (pair ->
    invented head) and the pairs merged, in order."""

    paths: tuple
    created: tuple = ()
    used: tuple = ()

    @property
    def terminal(self):
        return any(len(p) == 1 for p in self.paths) or not self.paths

    @property
    def prediction(self):
        for p in self.paths:
            if len(p) == 1:
                return p[0]
        return None


class ReductionEnv:
    """Transitions and features of R5's reduction game over one rule memory.

    With ``learn=True`` a pair without a rule gets a fresh invented predicate
    (recorded in the state, committed to memory only by the episode); with
    ``learn=False`` such pairs are not actions.
    """

    def __init__(self, memory, learn):
        self.memory, self.learn = memory, learn

    def head(self, state, pair):
        created = dict(state.created)
        if pair in created:
            return created[pair]
        return self.memory.head(pair)

    def actions(self, state):
        """Adjacent pairs present in some path (sorted), as ``a * width + b``."""
        if state.terminal:
            return []
        pairs = {(p[i], p[i + 1]) for p in state.paths for i in range(len(p) - 1)}
        if not self.learn:
            pairs = {pair for pair in pairs if self.head(state, pair) is not None}
        elif self.memory.free_invented([h for _, h in state.created]) is None:
            pairs = {pair for pair in pairs if self.head(state, pair) is not None}
        width = self.memory.width
        return sorted(a * width + b for a, b in pairs)

    def step(self, state, action, rng=None):
        """Merge the pair in every path that has it (the first occurrence, or a
        random one with ``rng``); drop the paths that do not."""
        width = self.memory.width
        pair = (action // width, action % width)
        created = state.created
        head = self.head(state, pair)
        if head is None:
            head = self.memory.free_invented([h for _, h in created])
            created = created + ((pair, head),)
        paths = []
        for p in state.paths:
            spots = [i for i in range(len(p) - 1) if (p[i], p[i + 1]) == pair]
            if not spots:
                continue
            i = spots[rng.randint(len(spots))] if rng is not None else spots[0]
            paths.append(p[:i] + (head,) + p[i + 2 :])
        return State(tuple(paths), created, state.used + (pair,))

    def features(self, state):
        """8 x width x width maps over relation pairs: occurrence count, most
        frequent position, count there, stored rule, observed head, rule score,
        row index, column index."""
        width = self.memory.width
        out = np.zeros((N_FEATURES, width, width), dtype=np.float32)
        positions = {}
        for p in state.paths:
            for i in range(len(p) - 1):
                positions.setdefault((p[i], p[i + 1]), []).append(i)
        for (a, b), where in positions.items():
            values, counts = np.unique(where, return_counts=True)
            out[0, a, b] = len(where)
            out[1, a, b] = values[counts.argmax()] + 1
            out[2, a, b] = counts.max()
        for (a, b), (head, score) in self.memory.rules.items():
            out[3, a, b] = 1.0
            out[4, a, b] = float(self.memory.is_observed(head))
            out[5, a, b] = np.tanh(score)
        for (a, b), _ in state.created:
            out[3, a, b] = 1.0
        index = np.arange(width, dtype=np.float32) / width
        out[6] = index[:, None]
        out[7] = index[None, :]
        return out
