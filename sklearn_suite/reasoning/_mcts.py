"""Monte Carlo tree search with PUCT over R5's reduction game."""

import numpy as np


class _Node:
    __slots__ = ("state", "prior", "children", "visits", "value_sum")

    def __init__(self, state, prior):
        self.state, self.prior = state, prior
        self.children = None  # action -> _Node, filled on expansion
        self.visits, self.value_sum = 0, 0.0

    def q(self):
        return self.value_sum / self.visits if self.visits else 0.0


class MCTS:
    """AlphaZero-style search for one agent.

    ``evaluate(state) -> (priors over actions, value)``; a terminal state is worth
    ``1 / number of merges`` (short derivations first) when it ends on an
    acceptable relation (any, or those ``accept`` admits: at prediction an
    invented predicate is no answer), and -1 otherwise or when the paths ran
    out. Values are backed up without the two-player sign flip of the official
    code (``sign_flip=True`` restores it).

    As in the official code, the tree is kept between moves: a search from the
    state one of the last search's root actions led to continues in that
    subtree, with its visits and values. ``found`` is the first acceptable
    terminal state any playout reached (every full reduction of a story takes
    the same number of merges, so all are worth the same).
    """

    def __init__(
        self, env, evaluate, n_playouts=50, c_puct=10.0, sign_flip=False, accept=None
    ):
        self.env, self.evaluate, self.accept = env, evaluate, accept
        self.n_playouts, self.c_puct, self.sign_flip = n_playouts, c_puct, sign_flip
        self._root, self.found = None, None

    def _terminal_value(self, state):
        prediction = state.prediction
        if prediction is None or (self.accept and not self.accept(prediction)):
            return -1.0
        if self.found is None:
            self.found = state
        return 1.0 / max(len(state.used), 1)

    def _expand(self, node):
        actions = self.env.actions(node.state)
        if not actions:
            node.children = {}
            return -1.0
        priors, value = self.evaluate(node.state, actions)
        node.children = {a: _Node(None, p) for a, p in zip(actions, priors)}
        return value

    def _playout(self, root):
        node, path = root, [root]
        while node.children:
            total = np.sqrt(node.visits)
            best, best_score = None, -np.inf
            for action, child in node.children.items():
                score = child.q() + self.c_puct * child.prior * total / (
                    1 + child.visits
                )
                if score > best_score:
                    best, best_score = action, score
            child = node.children[best]
            if child.state is None:
                child.state = self.env.step(node.state, best)
            node = child
            path.append(node)
        if node.state.terminal:
            value = self._terminal_value(node.state)
        elif node.children is None:
            value = self._expand(node)
        else:  # expanded before, no action left
            value = -1.0
        for n in reversed(path):
            n.visits += 1
            n.value_sum += value
            if self.sign_flip:
                value = -value

    def _subtree(self, state):
        """The last root's child whose state is ``state``, or a fresh root."""
        if self._root is not None:
            for child in (self._root.children or {}).values():
                if child.state == state:
                    return child
        return _Node(state, 1.0)

    def search(self, state):
        """Visit counts of the root's actions after ``n_playouts`` more playouts.

        Returns
        -------
        actions : list of int
        visits : ndarray of float
        """
        if state.terminal:
            return [], np.zeros(0)
        root = self._root = self._subtree(state)
        if root.children is None:
            self._expand(root)
        if not root.children:
            return [], np.zeros(0)
        for _ in range(self.n_playouts):
            self._playout(root)
        actions = list(root.children)
        return actions, np.array([root.children[a].visits for a in actions], float)
