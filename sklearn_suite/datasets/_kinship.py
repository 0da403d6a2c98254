"""CLUTRR-style kinship stories: a family tree closed under kinship rules, and
chains of exactly k edges made by expanding a target edge."""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

# abstract relation -> (word when the second entity is male, when female)
WORDS = {
    "child": ("son", "daughter"),
    "inv-child": ("father", "mother"),
    "SO": ("husband", "wife"),
    "sibling": ("brother", "sister"),
    "grand": ("grandson", "granddaughter"),
    "inv-grand": ("grandfather", "grandmother"),
    "in-law": ("son-in-law", "daughter-in-law"),
    "inv-in-law": ("father-in-law", "mother-in-law"),
    "un": ("nephew", "niece"),
    "inv-un": ("uncle", "aunt"),
    "sibling-in-law": ("brother-in-law", "sister-in-law"),
}
#: The 22 gendered relation words of CLUTRR; ``(x, r, y)`` reads "y is x's r".
KINSHIP_RELATIONS = tuple(w for pair in WORDS.values() for w in pair)

# CLUTRR's inverse rules run one way only (an inv-child fact adds no child fact)
INVERSE = {
    "child": "inv-child",
    "grand": "inv-grand",
    "un": "inv-un",
    "in-law": "inv-in-law",
}
SYMMETRIC = ("sibling", "SO")
# x r1 z, z r2 y => x r3 y
COMPOSITION = {
    ("child", "child"): "grand",
    ("child", "SO"): "in-law",
    ("child", "sibling"): "child",
    ("child", "inv-un"): "sibling",
    ("child", "inv-grand"): "inv-child",
    ("inv-child", "child"): "sibling",
    ("inv-child", "inv-child"): "inv-grand",
    ("inv-child", "sibling"): "inv-un",
    ("SO", "inv-child"): "inv-in-law",
    ("SO", "grand"): "grand",
    ("SO", "child"): "child",
    ("sibling", "sibling"): "sibling",
    ("sibling", "inv-grand"): "inv-grand",
    ("sibling", "child"): "un",
    ("sibling", "inv-child"): "inv-child",
    ("grand", "sibling"): "grand",
}
PUZZLES_PER_FAMILY = 10  # target edges tried per closed family tree
# the abstract relations CLUTRR's clean test stories are told with
STORY_RELATIONS = (
    "child", "inv-child", "SO", "sibling", "grand", "inv-grand", "inv-un",
)  # fmt: skip


def _family(rng, max_levels, n_children):
    """Genders (0 male, 1 female) and the base facts of a random family tree, in
    the order CLUTRR's ``Ancestry`` makes them: a person's marriage (one ``SO``
    fact, person to spouse), then each child's ``child`` facts from both parents;
    people are numbered as they are made."""
    genders, facts = [0], []

    def person(gender):
        genders.append(gender)
        return len(genders) - 1

    generation = [0]
    for level in range(max_levels):
        nxt = []
        for p in generation:
            spouse = person(1 - genders[p])
            facts.append((p, "SO", spouse))
            if level == max_levels - 1:
                continue
            for _ in range(n_children):
                kid = person(int(rng.randint(2)))
                facts += [(p, "child", kid), (spouse, "child", kid)]
                nxt.append(kid)
        generation = nxt
    return np.array(genders), facts


def _close(facts, n_people):
    """The closed family graph as ``{(x, y): relation}``, derived in CLUTRR's
    order so that pairs get CLUTRR's labels: its rules are not sound (a child's
    grandfather may be an in-law), so which rule reaches a pair first decides
    its relation.

    CLUTRR's ``almost_complete(x, y)``, called for every ordered pair of people
    in turn, rewrites the inverse and symmetric relations of the whole graph
    (overwriting what a pair held), then composes ``(x, y)`` with every edge
    ending at ``x`` and every edge leaving ``y`` (a composed pair keeps its
    first relation) and recurses depth first on each new edge. The rewriting of
    a pair depends on that pair alone, so here it is redone only for the pairs
    that changed since they were last rewritten: the same graph, in the same
    order, without a pass over the whole graph per call."""
    graph, order, into, out_of, changed = {}, {}, {}, {}, set()

    def add(key, rel):
        if key not in graph:
            order[key] = len(order)
            into.setdefault(key[1], []).append(key)
            out_of.setdefault(key[0], []).append(key)
        graph[key] = rel
        changed.add(frozenset(key))

    def rewrite():
        pairs = list(changed)
        before = [_pair_state(graph, p) for p in pairs]
        for rules in (INVERSE, {r: r for r in SYMMETRIC}):
            keys = sorted(
                (k for p in pairs for k in _ordered(p) if k in graph),
                key=order.__getitem__,
            )
            snapshot = [graph[k] for k in keys]  # each pass reads the graph before it
            for (x, y), rel in zip(keys, snapshot):
                if rel in rules:
                    add((y, x), rules[rel])
        changed.clear()
        # a pair the passes left as it was is a fixed point until it changes
        changed.update(
            p for p, old in zip(pairs, before) if _pair_state(graph, p) != old
        )

    def compose(first, second):
        (x, _), (_, y) = first, second
        head = COMPOSITION.get((graph[first], graph[second]))
        if x == y or (x, y) in graph or head is None:
            return None
        add((x, y), head)
        return (x, y)

    for x, rel, y in facts:
        add((x, y), rel)
    stack = [(x, y) for x in range(n_people) for y in range(n_people) if x != y]
    stack.reverse()
    while stack:
        edge = stack.pop()
        rewrite()
        if edge not in graph:
            continue
        ending, leaving = list(into.get(edge[0], ())), list(out_of.get(edge[1], ()))
        new = [compose(e, edge) for e in ending] + [compose(edge, e) for e in leaving]
        stack.extend(reversed([e for e in new if e is not None]))
    return graph


def _ordered(pair):
    x, y = sorted(pair)
    return (x, y), (y, x)


def _pair_state(graph, pair):
    return tuple(graph.get(k) for k in _ordered(pair))


def _adjacency(graph):
    """``{x: [(relation, z), ...]}`` of a closed graph, in sorted order (set and
    dict orders of str tuples change with each process's hash seed)."""
    out = {}
    for (x, z), r in sorted(graph.items()):
        out.setdefault(x, []).append((r, z))
    return out


def _chain(rng, graph, out, targets, k, story_relations, revisits):
    """CLUTRR's puzzle derivation: starting from a random target edge, k - 1
    times pick an edge of the chain not picked before and replace it by two
    edges through a family member whose relations compose to it (neither new
    edge may be, or reverse, an edge picked before). With ``revisits`` the
    family member may already be on the chain, as in CLUTRR, so the story's
    shortest path can skip a loop. ``out`` is the graph's :func:`_adjacency`
    and ``targets`` its sorted pairs, made once per family. Returns (target,
    chain) or None."""
    x, y = targets[rng.randint(len(targets))]
    chain, seen = [(x, graph[(x, y)], y)], set()
    while len(chain) < k:
        fresh = [i for i, (a, _, b) in enumerate(chain) if (a, b) not in seen]
        if not fresh:
            return None
        i = fresh[rng.randint(len(fresh))]
        a, rel, b = chain[i]
        seen.add((a, b))
        nodes = {chain[0][0]} | {e[2] for e in chain}
        edges = {(e[0], e[2]) for e in chain}
        options = [
            ((a, r1, z), (z, graph[(z, b)], b))
            for r1, z in out.get(a, ())
            if (z, b) in graph
            and COMPOSITION.get((r1, graph[(z, b)])) == rel
            and (revisits or z not in nodes)
            and not {(a, z), (z, a), (z, b), (b, z)} & seen
            and not {(a, z), (z, b)} & edges
        ]
        if options:
            first, second = options[rng.randint(len(options))]
            chain = chain[:i] + [first, second] + chain[i + 1 :]
    if all(r in story_relations for _, r, _ in chain):
        return (x, graph[(x, y)], y), chain
    return None


def kinship_rules():
    """The gendered composition rules (body1, body2, head) behind the stories.

    ``body1(x, z) and body2(z, y) => head(x, y)``; the head's gender is ``y``'s,
    as is ``body2``'s.

    Returns
    -------
    rules : pandas.DataFrame
        Columns ``body1``, ``body2``, ``head``.
    """
    rows = []
    for (r1, r2), r3 in COMPOSITION.items():
        for gz in (0, 1):
            for gy in (0, 1):
                rows.append((WORDS[r1][gz], WORDS[r2][gy], WORDS[r3][gy]))
    return pd.DataFrame(rows, columns=["body1", "body2", "head"])


def _balanced(pool, n, rng):
    """``n`` items of ``pool`` (pairs of pattern and item), as evenly spread over
    the patterns as the pool allows: CLUTRR prunes its puzzles to equal counts
    per relation pattern ("f_comb")."""
    groups = {}
    for pattern, item in pool:
        groups.setdefault(pattern, []).append(item)
    keys = sorted(groups)
    order = [keys[i] for i in rng.permutation(len(keys))]
    picked = []
    while len(picked) < n:
        for key in order:
            if groups[key] and len(picked) < n:
                picked.append(groups[key].pop())
    return picked


def make_kinship_stories(
    k=(2, 3),
    n=100,
    max_levels=3,
    n_children=4,
    story_relations=STORY_RELATIONS,
    revisits=True,
    balance=True,
    random_state=None,
):
    """Kinship puzzles in the style of CLUTRR's clean task 1.k.

    For each family a random tree is built (a root male; every person marries;
    every couple but the last generation's has ``n_children`` children of random
    gender) and closed under the inverse, symmetric and compositional kinship
    rules, one relation per ordered pair, derived in CLUTRR's order so that the
    labels are CLUTRR's (its rules are not sound: which rule reaches a pair
    first decides whether a spouse's father is a father-in-law or a father).
    A target edge ``(x, r, y)`` of the closed graph is expanded ``k - 1`` times,
    each time replacing a not-yet-expanded edge of the chain by two edges
    through a family member whose relations compose to it, until the chain
    from ``x`` to ``y`` has exactly ``k`` edges. Relations are told as
    gendered words chosen by the gender of the edge's second entity.

    As in CLUTRR, the chain may pass through a family member twice
    (``revisits``), so that the story's shortest path from ``x`` to ``y`` can be
    shorter than ``k`` and use compositions outside the rule table; and the
    puzzles are spread evenly over their relation patterns (``balance``).

    Parameters
    ----------
    k : int or sequence of int, default=(2, 3)
        Chain lengths; ``n`` stories are made for each.
    n : int, default=100
        Stories per chain length.
    max_levels : int, default=3
        Generations of the family tree.
    n_children : int, default=4
    story_relations : sequence of str, default=STORY_RELATIONS
        Abstract relations the chain's edges may use (CLUTRR's test stories use
        child, parent, spouse, sibling, grandchild, grandparent and uncle/aunt).
    revisits : bool, default=True
        Let an expansion go through a family member already on the chain
        (CLUTRR's generator does).
    balance : bool, default=True
        Draw three times as many puzzles as needed and keep ``n`` spread evenly
        over the sequences of relation words (CLUTRR's pruning by "f_comb");
        False keeps the puzzles as drawn.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` (list of stories ``{"edges": [(head, relation, tail), ...],
        "query": (head, tail)}``, edges in chain order, entities are str, ``(x,
        r, y)`` reads "y is x's r"), ``y`` (list of relation words), ``k``
        (ndarray, chain length of each story), ``rules`` (:func:`kinship_rules`).

    Examples
    --------
    >>> from sklearn_suite.datasets import make_kinship_stories
    >>> data = make_kinship_stories(k=3, n=2, random_state=0)
    >>> len(data.X[0]["edges"]), data.y[0] in data.rules["head"].tolist()
    (3, True)
    """
    ks = [k] if np.isscalar(k) else list(k)
    if not ks or any(int(v) != v or v < 1 for v in ks):
        raise ValueError(f"k must be positive ints; got {k!r}.")
    allowed = set(story_relations)
    unknown = allowed - set(WORDS)
    if unknown:
        raise ValueError(f"unknown story_relations {sorted(unknown)}.")
    rng = check_random_state(random_state)
    X, y, lengths = [], [], []
    for length in ks:
        want = 3 * n if balance else n
        pool, families = [], 0
        while len(pool) < want:
            genders, facts = _family(rng, max_levels, n_children)
            families += 1
            if families > 50 * n:
                raise ValueError(
                    f"could not make chains of {length} edges from "
                    f"{max_levels}-generation families with these relations."
                )
            graph = _close(facts, len(genders))
            out, targets = _adjacency(graph), sorted(graph)
            for _ in range(PUZZLES_PER_FAMILY):
                found = _chain(rng, graph, out, targets, int(length), allowed, revisits)
                if found is None:
                    continue
                (x, r, t), chain = found
                words = tuple(WORDS[rel][genders[b]] for _, rel, b in chain)
                pool.append((words, (chain, words, x, t, WORDS[r][genders[t]])))
        picked = _balanced(pool, n, rng) if balance else [item for _, item in pool]
        for chain, words, x, t, label in picked[:n]:
            name = f"s{len(X)}-p"
            X.append(
                {
                    "edges": [
                        (f"{name}{a}", word, f"{name}{b}")
                        for (a, _, b), word in zip(chain, words)
                    ],
                    "query": (f"{name}{x}", f"{name}{t}"),
                }
            )
            y.append(label)
            lengths.append(int(length))
    return Bunch(X=X, y=y, k=np.array(lengths), rules=kinship_rules())
