"""R5RuleLearner: relational reasoning by learned rule chains, with rules
discovered by Monte Carlo tree search, a policy-value network and backtrack
rewriting."""

import copy
import warnings
from collections.abc import Hashable
from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from skorch.history import History
from torch import nn
from torch.nn import functional as F

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    HandLoop,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    fit_method,
    fit_net,
    make_net,
    torch_seeded,
)
from sklearn_suite.reasoning._env import ReductionEnv, State, relation_paths
from sklearn_suite.reasoning._mcts import MCTS
from sklearn_suite.reasoning._memory import DELETE_BELOW, RuleMemory
from sklearn_suite.reasoning._net import PolicyValueNet

MISS_REWARD = -0.02  # an episode that ends on an invented predicate
KL_TARGET = 0.02  # of the policy update's adaptive learning rate


class PolicyValueLoss(nn.Module):
    """AlphaZero's loss: MSE of the value against the episode outcome ``z`` plus
    cross-entropy of the policy against the search's visit distribution ``pi``."""

    def forward(self, output, target):
        log_p, v = output
        return F.mse_loss(v, target["z"]) - (target["pi"] * log_p).sum(1).mean()


def check_stories(X, name="X"):
    """Validate stories ``{"edges": [(head, relation, tail), ...], "query":
    (head, tail)}``; return them as lists of tuples."""
    if isinstance(X, (dict, str)) or not hasattr(X, "__len__"):
        raise TypeError(
            f"{name} must be a list of stories (dicts); got {type(X).__name__}."
        )
    if len(X) == 0:
        raise ValueError(f"{name} is empty.")
    out = []
    for i, story in enumerate(X):
        if not isinstance(story, dict) or "edges" not in story or "query" not in story:
            raise TypeError(
                f"{name}[{i}] must be a dict with 'edges' and 'query'; got "
                f"{story!r:.80}."
            )
        edges = list(story["edges"])
        if not edges:
            raise ValueError(f"{name}[{i}] has an empty story (no edges).")
        for edge in edges:
            if not isinstance(edge, (tuple, list)) or len(edge) != 3:
                raise ValueError(
                    f"{name}[{i}] has an edge that is not a (head, relation, tail) "
                    f"triple: {edge!r}."
                )
            if not isinstance(edge[1], str) or not edge[1]:
                raise TypeError(
                    f"{name}[{i}] has an edge whose relation is not a name (str): "
                    f"{edge!r}."
                )
            for entity in (edge[0], edge[2]):
                if not isinstance(entity, Hashable) or isinstance(entity, float):
                    raise TypeError(
                        f"{name}[{i}] has an edge whose entity is not an id (a str "
                        f"or an int): {edge!r}."
                    )
        query = story["query"]
        if not isinstance(query, (tuple, list)) or len(query) != 2:
            raise ValueError(
                f"{name}[{i}]['query'] must be (head, tail); got {query!r}."
            )
        entities = {e[0] for e in edges} | {e[2] for e in edges}
        missing = [q for q in query if q not in entities]
        if missing:
            raise ValueError(
                f"{name}[{i}]['query'] names entities not in the story: {missing}."
            )
        out.append(([tuple(e) for e in edges], tuple(query)))
    return out


class R5RuleLearner(TorchEstimatorMixin, ClassifierMixin, BaseEstimator):
    """R5: predicts the relation between two entities of a story graph by a chain
    of learned length-2 rules, and learns those rules from (story, query,
    answer) triples alone.

    Each query becomes the relation sequences of the shortest story paths from
    its head to its tail. An episode reduces them by repeatedly merging an
    adjacent relation pair into the head a stored rule gives it; a pair with no
    rule gets a fresh *invented predicate* (a provisional rule). Which pair to
    merge is chosen by Monte Carlo tree search (PUCT) guided by a policy-value
    network over 8 feature maps of relation pairs, trained on the search's visit
    counts and the episodes' outcomes. When an episode ends on an invented
    predicate, *backtrack rewriting* grounds it to the true answer throughout the
    memory; rules gain or lose score with the outcome, decay, and are deleted
    below a threshold. Training goes through stories shortest path first in the
    first epoch (curriculum).

    Prediction searches with the learned rules only: no rule is created, a
    reduction ending on an invented predicate counts as a dead end, and a query
    whose paths cannot be reduced to an observed relation gets ``None``
    (abstention, counted as wrong by :meth:`score`). The search keeps the tree
    of the move taken for the next move, as the official code does.

    The defaults are the paper's budget: 27 invented predicates, 200 playouts
    per move, 10 epochs, a network update every 128 episodes.

    Parameters
    ----------
    n_invented : int, default=27
        Invented predicates available to the rule memory.
    n_playouts : int, default=200
        MCTS playouts per move while learning.
    n_playouts_predict : int or None, default=None
        Playouts per move at prediction (None: ``n_playouts``).
    max_paths : int, default=1000
        Shortest relation paths taken per story. The paper reduces all of them,
        which is what happens below the cap (CLUTRR stories have a handful); a
        story whose paths multiply at every hop has exponentially many, and a
        warning says when the cap is hit.
    c_puct : float, default=10.0
    max_epochs : int, default=10
        Self-play passes over the training stories.
    curriculum : bool, default=True
        Sort the first epoch's stories by path length.
    buffer_size : int, default=5000
    update_every : int, default=128
        Episodes between network updates.
    batch_size : int, default=64
    n_updates : int, default=10
        At most this many minibatch steps per network update; the update stops
        early once the KL divergence between the policies before and after
        exceeds 0.08 (the official code's rule).
    lr : float, default=1e-2
        Adam learning rate, times a multiplier adapted to keep the KL divergence
        between the policies before and after an update near 0.02.
    weight_decay : float, default=1e-4
    dirichlet_alpha : float, default=0.3
    noise_weight : float, default=0.1
        Moves while learning follow ``(1 - noise_weight) pi + noise_weight
        Dir(dirichlet_alpha)``.
    sign_flip : bool, default=False
        Back up values with the two-player sign flip of the official code.
    correct_bonus : float, default=0.1
        Score added to every rule of an episode that ends on the right answer
        (the paper's v_T_pos; its code uses 0.3-0.8 on GraphLog worlds, where a
        positive reward setting speeds up rule confirmation).
    unify : bool, default=True
        After each epoch, rewrite every invented predicate whose rules agree
        with those of one other predicate to that predicate (see
        ``RuleMemory.unify``). Not in the paper: backtrack rewriting grounds an
        invented predicate only when an episode ends on it, so a relation that
        the training stories show only as an intermediate step stays invented
        (and unanswerable), and one concept can hold several invented
        predicates whose rules never meet.
    min_rule_score : float or None, default=0.0
        Prediction (and the validation that chooses the epoch) first searches
        with the stored rules scored above this, and with every stored rule only
        where those cannot reduce the story; None searches with every stored
        rule at once, as the official code does. Not in the paper: a rule scored
        at or below 0 is a candidate its episodes have not confirmed, e.g.
        ``aunt, daughter -> sister``, which some training chain got right by
        chance, and the network sometimes prefers it to a confirmed chain.
    validation_fraction : float, default=0.1
        Training stories held out to choose the epoch whose rules and network are
        kept (the latest of equally good epochs; 0: keep the last epoch). Test
        data is never looked at.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of the policy-value net (each step of a network update
        is one skorch epoch on a replay minibatch).
    device : str, default="cpu"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    relations_ : list of str
        Observed relations (ids 1..n).
    rules_ : pandas.DataFrame
        Learned rules, columns ``body1``, ``body2``, ``head``, ``score``;
        invented predicates are named ``"inv<id>"``.
    policy_value_net_ : PolicyValueNet
        The network (``net_.module_``).
    net_ : skorch.NeuralNet
        The policy-value network's training net.
    history_ : dict
        skorch Histories: ``"self_play"``, one entry per epoch (``epoch``,
        ``train_accuracy`` of the episodes, ``n_rules``, ``n_unified``
        (invented predicates unified after it), ``valid_accuracy``);
        ``"policy_value"``, one entry per gradient step of the network.

    Examples
    --------
    >>> from sklearn_suite.datasets import make_kinship_stories
    >>> from sklearn_suite.reasoning import R5RuleLearner
    >>> data = make_kinship_stories(k=2, n=30, random_state=0)
    >>> model = R5RuleLearner(n_playouts=5, max_epochs=1, random_state=0)
    >>> model.fit(data.X, data.y).rules_.columns.tolist()
    ['body1', 'body2', 'head', 'score']

    References
    ----------
    .. [1] S. Lu, B. Liu, K. G. Mills, S. Jui and D. Niu, "R5: Rule Discovery
       with Reinforced and Recurrent Relational Reasoning", ICLR 2022.
    """

    def __init__(
        self,
        *,
        n_invented=27,
        n_playouts=200,
        n_playouts_predict=None,
        max_paths=1000,
        c_puct=10.0,
        max_epochs=10,
        curriculum=True,
        buffer_size=5000,
        update_every=128,
        batch_size=64,
        n_updates=10,
        lr=1e-2,
        weight_decay=1e-4,
        dirichlet_alpha=0.3,
        noise_weight=0.1,
        sign_flip=False,
        correct_bonus=0.1,
        unify=True,
        min_rule_score=0.0,
        validation_fraction=0.1,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.n_invented = n_invented
        self.n_playouts = n_playouts
        self.n_playouts_predict = n_playouts_predict
        self.max_paths = max_paths
        self.c_puct = c_puct
        self.max_epochs = max_epochs
        self.curriculum = curriculum
        self.buffer_size = buffer_size
        self.update_every = update_every
        self.batch_size = batch_size
        self.n_updates = n_updates
        self.lr = lr
        self.weight_decay = weight_decay
        self.dirichlet_alpha = dirichlet_alpha
        self.noise_weight = noise_weight
        self.sign_flip = sign_flip
        self.correct_bonus = correct_bonus
        self.unify = unify
        self.min_rule_score = min_rule_score
        self.validation_fraction = validation_fraction
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    def _encode(self, stories):
        """Relation-id paths per story (unknown relations -> 0), at most
        ``max_paths`` per story (a warning says how many stories hit the cap)."""
        ids, capped, out = self._ids, 0, []
        for edges, query in stories:
            # one more than the cap tells a capped story from one exactly at it
            paths = relation_paths(edges, query, self.max_paths + 1)
            capped += len(paths) > self.max_paths
            paths = paths[: self.max_paths]
            out.append(tuple(tuple(ids.get(r, 0) for r in p) for p in paths))
        if capped:
            warnings.warn(
                f"{capped} of {len(stories)} stories have more than max_paths="
                f"{self.max_paths} shortest relation paths; only the first "
                f"{self.max_paths} of each are reduced.",
                UserWarning,
                stacklevel=3,
            )
        return out

    def _evaluator(self, env):
        net, cache = self.policy_value_net_, {}

        def evaluate(state, actions):
            key = (state.paths, state.created, tuple(actions))
            if key not in cache:
                maps = torch.as_tensor(env.features(state))[None].to(self._device)
                with torch.no_grad():
                    priors, v = net.priors(maps, actions)
                cache[key] = (priors[0].cpu().numpy(), float(v[0]))
            return cache[key]

        return evaluate

    # --------------------------------------------------------------- learning
    _parameter_constraints: dict = {
        "n_invented": [POSITIVE_INT],
        "n_playouts": [POSITIVE_INT],
        "n_playouts_predict": [POSITIVE_INT, None],
        "max_paths": [POSITIVE_INT],
        "c_puct": [POSITIVE],
        "max_epochs": [POSITIVE_INT],
        "curriculum": ["boolean"],
        "buffer_size": [POSITIVE_INT],
        "update_every": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "n_updates": [NON_NEGATIVE_INT],
        "lr": [POSITIVE],
        "weight_decay": [NON_NEGATIVE],
        "dirichlet_alpha": [POSITIVE],
        "noise_weight": [PROBABILITY],
        "sign_flip": ["boolean"],
        "correct_bonus": [Real],
        "unify": ["boolean"],
        "min_rule_score": [Real, None],
        "validation_fraction": [Interval(Real, 0, 0.5, closed="both")],
        **COMMON_CONSTRAINTS,
    }

    @fit_method
    def fit(self, X, y):
        """Learn rules and the policy-value network from stories and answers.

        Parameters
        ----------
        X : list of dict
            Stories ``{"edges": [(head, relation, tail), ...], "query": (head,
            tail)}``; ``(x, r, y)`` reads "y is x's r".
        y : sequence of str
            The relation of each query.

        Returns
        -------
        self : R5RuleLearner
        """
        self._device = check_device(self.device)
        stories = check_stories(X)
        y = list(y)
        if len(y) != len(stories):
            raise ValueError(f"X has {len(stories)} stories but y has {len(y)} labels.")
        if any(not isinstance(label, str) for label in y):
            raise TypeError("y must hold relation names (str).")
        relations = sorted({r for e, _ in stories for _, r, _ in e} | set(y))
        self.relations_ = relations
        self.classes_ = np.array(relations, dtype=object)
        self._ids = {r: i + 1 for i, r in enumerate(relations)}
        width = 1 + len(relations) + self.n_invented
        self._memory = RuleMemory(len(relations), width, self.correct_bonus)
        rng = check_random_state(self.random_state)
        paths = self._encode(stories)
        targets = np.array([self._ids[label] for label in y])
        order = rng.permutation(len(stories))
        n_val = int(round(self.validation_fraction * len(stories)))
        val, train = order[:n_val], order[n_val:]
        seed = check_seed(rng)
        with torch_seeded(seed, self._device):
            self.net_ = self._new_net(width, seed, self._device)
            self.net_.initialize()
            self.policy_value_net_ = self.net_.module_
            self._train(paths, targets, train, val, rng)
        self.policy_value_net_.cpu().eval()
        self.net_.set_params(device="cpu")
        self._device = "cpu"
        return self

    def _new_net(self, width, seed, device):
        return make_net(
            PolicyValueNet(width),
            stage="R5 policy-value update",
            seed=seed,
            device=device,
            lr=self.lr,
            # each fit is one full step on a replay minibatch (see _update)
            max_epochs=1,
            batch_size=-1,
            criterion=PolicyValueLoss,
            optimizer=torch.optim.Adam,
            # fused: one kernel over the 25M weights; Adam's step 8x faster on CPU
            optimizer_params={"fused": True},
            weight_decay=self.weight_decay,
            warm_start=True,
            callbacks=self.callbacks,
        )

    def _rebuild_modules(self):
        """For :meth:`load`: the policy-value net, weights to be loaded."""
        self.net_ = self._new_net(self._memory.width, 0, "cpu")
        self.net_.initialize()
        self.policy_value_net_ = self.net_.module_.eval()
        self._device = "cpu"

    def _train(self, paths, targets, train, val, rng):
        """Self-play epochs: a hand-written loop (episodes of MCTS with the rule
        memory are not minibatch learning); the policy-value net learns from the
        replay buffer through its skorch net (:meth:`_update`)."""
        net = self.policy_value_net_
        self._lr_multiplier = 1.0
        buffer, history, best = [], History(), None
        for epoch in range(self.max_epochs):
            if epoch == 0 and self.curriculum:
                lengths = np.array(
                    [max((len(p) for p in paths[i]), default=0) for i in train]
                )
                episodes = train[np.argsort(lengths, kind="stable")]
            else:
                episodes = rng.permutation(train)
            correct = 0
            loop = HandLoop(len(episodes), f"R5 epoch {epoch}", self.verbose)
            for n in loop:
                i = episodes[n]
                if not paths[i]:
                    continue
                samples, hit = self._episode(paths[i], targets[i], rng)
                correct += hit
                buffer.extend(samples)
                del buffer[: -self.buffer_size]
                if (n + 1) % self.update_every == 0 and len(buffer) >= self.batch_size:
                    loop.check(self._update(buffer, rng))
            # after the epoch, so that the validation below judges it
            unified = self._memory.unify() if self.unify else []
            row = {
                "epoch": epoch + 1,
                "train_accuracy": correct / max(len(episodes), 1),
                "n_rules": len(self._memory.rules),
                "n_unified": len(unified),
            }
            if len(val):
                row["valid_accuracy"] = self._accuracy(
                    [paths[i] for i in val], targets[val]
                )
                # ties go to the later epoch: its rules have been confirmed longer
                if best is None or row["valid_accuracy"] >= best[0]:
                    best = (
                        row["valid_accuracy"],
                        copy.deepcopy(self._memory),
                        copy.deepcopy(net.state_dict()),
                    )
            history.new_epoch()
            for key, value in row.items():
                history.record(key, value)
        if best is not None:
            _, self._memory, state = best
            net.load_state_dict(state)
        self.history_ = {
            "self_play": history,
            "policy_value": self.net_.history,
        }

    def _episode(self, paths, target, rng):
        """One self-play episode; commits its rules and returns the samples
        (features, search policy, outcome) and whether it was right."""
        memory = self._memory
        env = ReductionEnv(memory, learn=True)
        mcts = MCTS(
            env, self._evaluator(env), self.n_playouts, self.c_puct, self.sign_flip
        )
        state, steps = State(paths), []
        area = memory.width**2
        while not state.terminal:
            actions, visits = mcts.search(state)
            if not actions:
                break
            pi = visits / visits.sum()
            full = np.zeros(area, dtype=np.float32)
            full[actions] = pi
            steps.append((env.features(state), full))
            noise = rng.dirichlet(np.full(len(actions), self.dirichlet_alpha))
            move = actions[
                rng.choice(
                    len(actions),
                    p=(1 - self.noise_weight) * pi + self.noise_weight * noise,
                )
            ]
            state = env.step(state, move, rng)
        prediction = state.prediction
        if prediction == target:
            z = 1.0
        elif prediction is not None and memory.is_observed(prediction):
            z = -1.0
        else:
            z = MISS_REWARD
        created = dict(state.created)
        for pair, head in state.created:
            memory.rules[pair] = [head, 0.0]
        memory.reward(state.used, created, prediction, target, len(state.used))
        if prediction is not None and state.used:
            last = state.used[-1]
            if not memory.is_observed(prediction):
                memory.rewrite(prediction, target)  # backtrack rewriting
            elif prediction != target and memory.score(last) < DELETE_BELOW:
                memory.rules[last] = [target, 0.0]
        memory.decay()
        memory.prune()
        return [(f, pi, z) for f, pi in steps], prediction == target

    def _update(self, buffer, rng):
        """Up to ``n_updates`` steps of the policy-value net on one minibatch of
        the replay buffer (skorch, warm-started), stopping early once the KL
        divergence between the policies before and after exceeds four times its
        target of 0.02; the learning rate is then adapted to that divergence
        (AlphaZero's schedule, as in the official code). Returns the last loss."""
        net = self.policy_value_net_
        idx = rng.choice(len(buffer), size=self.batch_size, replace=False)
        maps = np.stack([buffer[i][0] for i in idx])
        target = {
            "pi": np.stack([buffer[i][1] for i in idx]),
            "z": np.array([buffer[i][2] for i in idx], dtype=np.float32),
        }
        inputs = torch.as_tensor(maps).to(self._device)
        net.eval()
        with torch.no_grad():
            old_log_p, _ = net(inputs)
        for group in self.net_.optimizer_.param_groups:
            group["lr"] = self.lr * self._lr_multiplier
        kl = 0.0
        for _ in range(self.n_updates):
            fit_net(self.net_, maps, target)  # one step: the net's max_epochs is 1
            net.eval()
            with torch.no_grad():
                new_log_p, _ = net(inputs)
                kl = (old_log_p.exp() * (old_log_p - new_log_p)).sum(1).mean().item()
            if kl > 4 * KL_TARGET:
                break
        if kl > 2 * KL_TARGET:
            self._lr_multiplier = max(self._lr_multiplier / 1.5, 0.1)
        elif kl < KL_TARGET / 2:
            self._lr_multiplier = min(self._lr_multiplier * 1.5, 10.0)
        history = self.net_.history
        return history[-1, "train_loss"] if len(history) else 0.0

    # -------------------------------------------------------------- inference
    def _reason(self, paths):
        """Reduce with stored rules only, the confirmed ones first; (prediction
        id or None, rules used)."""
        if self.min_rule_score is not None:
            confirmed = self._memory.confirmed(self.min_rule_score)
            found = self._search(paths, confirmed)
            # the search is deterministic: with no rule left out, a second one
            # would fail the same way
            if found[0] is not None or len(confirmed.rules) == len(self._memory.rules):
                return found
        return self._search(paths, self._memory)

    def _search(self, paths, memory):
        """One prediction search with the rules of ``memory``."""
        env = ReductionEnv(memory, learn=False)
        playouts = self.n_playouts_predict or self.n_playouts
        mcts = MCTS(
            env,
            self._evaluator(env),
            playouts,
            self.c_puct,
            self.sign_flip,
            # an invented predicate is no answer: a search ending there failed
            accept=self._memory.is_observed,
        )
        state = State(paths)
        while not state.terminal:
            actions, visits = mcts.search(state)
            if not actions:
                break
            state = env.step(state, actions[int(np.argmax(visits))])
        prediction = state.prediction
        if prediction is not None and self._memory.is_observed(prediction):
            return prediction, state.used
        # the moves taken dead-ended, but a playout had reduced the story fully
        # with stored rules: that derivation is the answer
        if mcts.found is not None:
            return mcts.found.prediction, mcts.found.used
        return None, state.used

    def _accuracy(self, paths, targets):
        hits = [self._reason(p)[0] == t for p, t in zip(paths, targets)]
        return float(np.mean(hits)) if hits else 0.0

    def _name(self, r):
        return self.relations_[r - 1] if self._memory.is_observed(r) else f"inv{r}"

    def predict(self, X):
        """The relation of each query, or None where no learned rule chain
        applies.

        Parameters
        ----------
        X : list of dict

        Returns
        -------
        y : ndarray of object
        """
        check_is_fitted(self, "policy_value_net_")
        out = []
        for p in self._encode(check_stories(X)):
            pred = self._reason(p)[0]
            out.append(None if pred is None else self._name(pred))
        return np.array(out, dtype=object)

    def explain(self, X):
        """The rule applications behind each prediction, in order.

        Parameters
        ----------
        X : list of dict

        Returns
        -------
        chains : list of list of (str, str, str)
            ``(body1, body2, head)`` per merge; the last head is the prediction
            (empty when nothing applied).
        """
        check_is_fitted(self, "policy_value_net_")
        chains = []
        for p in self._encode(check_stories(X)):
            used = self._reason(p)[1]
            chains.append(
                [
                    (
                        self._name(a),
                        self._name(b),
                        self._name(self._memory.head((a, b))),
                    )
                    for a, b in used
                ]
            )
        return chains

    def score(self, X, y, sample_weight=None):
        """Accuracy, with abstentions (None) counted as wrong.

        Parameters
        ----------
        X : list of dict
        y : sequence of str
        sample_weight : None
            Not supported.

        Returns
        -------
        score : float
        """
        pred = self.predict(X)
        y = list(y)
        if len(y) != len(pred):
            raise ValueError(f"X has {len(pred)} stories but y has {len(y)} labels.")
        return float(np.mean([p is not None and p == t for p, t in zip(pred, y)]))

    @property
    def rules_(self):
        check_is_fitted(self, "policy_value_net_")
        rows = [
            (self._name(a), self._name(b), self._name(head), score)
            for (a, b), (head, score) in sorted(self._memory.rules.items())
        ]
        return pd.DataFrame(rows, columns=["body1", "body2", "head", "score"])
