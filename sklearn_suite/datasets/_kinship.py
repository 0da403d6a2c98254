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

INVERSE = {
    "child": "inv-child",
    "grand": "inv-grand",
    "un": "inv-un",
    "in-law": "inv-in-law",
}
INVERSE |= {v: k for k, v in INVERSE.items()}
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
# the abstract relations CLUTRR's clean test stories are told with
STORY_RELATIONS = (
    "child", "inv-child", "SO", "sibling", "grand", "inv-grand", "inv-un",
)  # fmt: skip


def _family(rng, max_levels, n_children):
    """Genders (0 male, 1 female) and the base facts of a random family tree."""
    genders, facts = [0], set()

    def person(gender):
        genders.append(gender)
        return len(genders) - 1

    generation = [0]
    for level in range(max_levels):
        nxt = []
        for p in generation:
            spouse = person(1 - genders[p])
            facts |= {(p, "SO", spouse), (spouse, "SO", p)}
            if level == max_levels - 1:
                continue
            for _ in range(n_children):
                kid = person(int(rng.randint(2)))
                facts |= {(p, "child", kid), (spouse, "child", kid)}
                nxt.append(kid)
        generation = nxt
    return np.array(genders), facts


def _close(facts):
    """Apply the inverse, symmetric and compositional rules until nothing changes."""
    facts = set(facts)
    while True:
        new = {(y, INVERSE[r], x) for x, r, y in facts if r in INVERSE}
        new |= {(y, r, x) for x, r, y in facts if r in SYMMETRIC}
        out = {}
        for x, r, z in facts:
            out.setdefault(x, []).append((r, z))
        for x, r1, z in facts:
            for r2, y in out.get(z, ()):
                r3 = COMPOSITION.get((r1, r2))
                if r3 is not None and x != y:
                    new.add((x, r3, y))
        if new <= facts:
            return facts
        facts |= new


def _chain(rng, facts, k, story_relations, max_tries=200):
    """A simple path of exactly ``k`` edges whose relations compose to a target
    edge, by expanding edges of the chain k - 1 times; None when it fails."""
    # sorted: set order of str tuples changes with the hash seed of each process
    targets = sorted(facts)
    by_pair = {}
    for x, r, y in targets:
        by_pair.setdefault((x, y), []).append(r)
    out = {}
    for x, r, z in targets:
        out.setdefault(x, []).append((r, z))
    for _ in range(max_tries):
        target = targets[rng.randint(len(targets))]
        chain, expanded = [target], set()
        for _ in range(k - 1):
            nodes = {chain[0][0]} | {e[2] for e in chain}
            options = []
            for i, (a, rel, b) in enumerate(chain):
                if i in expanded:
                    continue
                for r1, z in out.get(a, ()):
                    if z in nodes:
                        continue
                    for r2 in by_pair.get((z, b), ()):
                        if COMPOSITION.get((r1, r2)) == rel:
                            options.append((i, (a, r1, z), (z, r2, b)))
            if not options:
                break
            i, first, second = options[rng.randint(len(options))]
            chain = chain[:i] + [first, second] + chain[i + 1 :]
            expanded = {j + (j > i) for j in expanded if j != i}
        if len(chain) == k and all(r in story_relations for _, r, _ in chain):
            return target, chain
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


def make_kinship_stories(
    k=(2, 3),
    n=100,
    max_levels=3,
    n_children=4,
    story_relations=STORY_RELATIONS,
    random_state=None,
):
    """Kinship puzzles in the style of CLUTRR's clean task 1.k.

    For each story a random family tree is built (a root male; every person
    marries; every couple but the last generation's has ``n_children`` children
    of random gender) and closed under the inverse, symmetric and compositional
    kinship rules. A target edge ``(x, r, y)`` of the closed graph is expanded
    ``k - 1`` times, each time replacing one not-yet-expanded edge of the chain
    by two edges through another family member whose relations compose to it,
    until the chain from ``x`` to ``y`` has exactly ``k`` edges. Relations are
    told as gendered words chosen by the gender of the edge's second entity.

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
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``X`` (list of stories ``{"edges": [(head, relation, tail), ...],
        "query": (head, tail)}``, entities are str, ``(x, r, y)`` reads "y is
        x's r"), ``y`` (list of relation words), ``k`` (ndarray, chain length of
        each story), ``rules`` (:func:`kinship_rules`).

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
    unknown = set(story_relations) - set(WORDS)
    if unknown:
        raise ValueError(f"unknown story_relations {sorted(unknown)}.")
    rng = check_random_state(random_state)
    X, y, lengths = [], [], []
    for length in ks:
        made, families = 0, 0
        while made < n:
            genders, facts = _family(rng, max_levels, n_children)
            families += 1
            if families > 50 * n:
                raise ValueError(
                    f"could not make chains of {length} edges from "
                    f"{max_levels}-generation families with these relations."
                )
            found = _chain(rng, _close(facts), int(length), set(story_relations))
            if found is None:
                continue
            (x, r, t), chain = found
            name = f"s{len(X)}-p"
            X.append(
                {
                    "edges": [
                        (f"{name}{a}", WORDS[rel][genders[b]], f"{name}{b}")
                        for a, rel, b in chain
                    ],
                    "query": (f"{name}{x}", f"{name}{t}"),
                }
            )
            y.append(WORDS[r][genders[t]])
            lengths.append(int(length))
            made += 1
    return Bunch(X=X, y=y, k=np.array(lengths), rules=kinship_rules())
