"""LA3 search: stage 1 (rewards, predictor ensemble, candidates, BO acquisition)
and stage 2 (greedy relevance + diversity policy selection)."""

import itertools

import numpy as np
import torch
from joblib import Parallel, delayed

from sklearn_suite.augment._ops import OP_NAMES, apply_triples
from sklearn_suite.augment._predictor import (
    botorch_ensemble,
    fit_predictor_ensemble,
    predict_ensemble,
)
from sklearn_suite.base import torch_seeded

N_OPS = len(OP_NAMES)
ALL_TRIPLES = np.array(list(itertools.product(range(N_OPS), repeat=3)), dtype=np.int64)


def op_histograms(triples):
    """Op-count histogram of each triple, shape (n, 16): the diversity features."""
    triples = np.asarray(triples)
    hist = np.zeros((len(triples), N_OPS))
    for position in range(3):
        np.add.at(hist, (np.arange(len(triples)), triples[:, position]), 1)
    return hist


def per_class_accuracy(
    proxy_predict, images, labels, n_classes, triples, seed, to_layout
):
    """Accuracy per class of the frozen proxy on held-out images, each augmented
    with its class's triple.

    ``triples`` has one row per class, shape (n_classes, 3), or a stack of such
    assignments, shape (m, n_classes, 3); the stack is augmented and predicted in
    one batch (one pass over the images per assignment) and gives shape
    (m, n_classes).
    """
    triples = np.asarray(triples)
    stacked = triples.reshape(-1, n_classes, 3)
    m = len(stacked)
    with torch_seeded(seed):
        generator = torch.Generator().manual_seed(seed)
        augmented = apply_triples(
            torch.from_numpy(images).repeat(m, *[1] * (images.ndim - 1)),
            stacked[:, labels].reshape(-1, 3),
            generator,
        )
    correct = proxy_predict(to_layout(augmented.numpy())) == np.tile(labels, m)
    accuracy = per_label_mean(correct.reshape(m, -1), labels, n_classes)
    return accuracy.reshape(triples.shape[:-1])


def per_label_mean(values, labels, n_classes):
    """Mean of ``values`` over the images of each label, along the last axis:
    shape (..., n_images) -> (..., n_classes)."""
    values = np.asarray(values, dtype=float)
    rows = values.reshape(-1, values.shape[-1])
    index = np.arange(len(rows))[:, None] * n_classes + labels[None, :]
    sums = np.bincount(
        index.ravel(), weights=rows.ravel(), minlength=len(rows) * n_classes
    ).reshape(len(rows), n_classes)
    means = sums / np.bincount(labels, minlength=n_classes)
    return means.reshape(*values.shape[:-1], n_classes)


def generate_candidates(
    stats, rng, n_candidates=100, n_best=5, n_mutations=5, n_random=50
):
    """Candidate triples for one class.

    The ``n_best`` lowest observed drops; for each, ``n_mutations`` with op3
    replaced and ``n_mutations`` with op2 and op3 replaced; up to ``n_random``
    never-evaluated random triples; the rest drawn from the evaluated ones with
    probability proportional to ``(100 - mean drop) + sqrt(2 ln N / n)`` (UCB-like).

    Parameters
    ----------
    stats : dict of tuple to (float, int)
        Evaluated triple -> (mean reward, count) for this class.
    """
    observed = sorted(stats, key=lambda t: stats[t][0])
    candidates = list(observed[:n_best])
    for best in observed[:n_best]:
        for _ in range(n_mutations):
            candidates.append((best[0], best[1], int(rng.randint(N_OPS))))
            candidates.append(
                (best[0], int(rng.randint(N_OPS)), int(rng.randint(N_OPS)))
            )
    tries = 0
    fresh = 0
    while fresh < n_random and tries < 20 * n_random:
        triple = tuple(int(v) for v in rng.randint(N_OPS, size=3))
        tries += 1
        if triple not in stats and triple not in candidates:
            candidates.append(triple)
            fresh += 1
    candidates = list(dict.fromkeys(candidates))
    if len(candidates) < n_candidates and observed:
        total = sum(count for _, count in stats.values())
        score = np.array(
            [
                100 - stats[t][0] + np.sqrt(2 * np.log(total) / stats[t][1])
                for t in observed
            ]
        )
        p = np.clip(score, 1e-6, None)
        k = min(n_candidates - len(candidates), len(observed))
        picks = rng.choice(len(observed), size=k, replace=False, p=p / p.sum())
        candidates += [observed[i] for i in picks]
    return np.array(list(dict.fromkeys(candidates)), dtype=np.int64)


def acquire(members, label, candidates, q, seed):
    """Pick ``q`` candidates of one class with botorch's qSimpleRegret on the
    ensemble posterior, optimised over the discrete candidate set.

    For one point qSimpleRegret is the ensemble mean, LA3's own acquisition; for a
    batch of ``q`` it is the expected best of the batch under the ensemble, so
    sequential greedy selection favours candidates on which members disagree.
    """
    from botorch.acquisition import qSimpleRegret
    from botorch.optim import optimize_acqf_discrete
    from botorch.sampling.index_sampler import IndexSampler

    model = botorch_ensemble(members)
    sampler = IndexSampler(sample_shape=torch.Size([64]), seed=seed)
    acq = qSimpleRegret(model, sampler=sampler)
    choices = torch.cat(
        [
            torch.full((len(candidates), 1), float(label)),
            torch.as_tensor(candidates, dtype=torch.float64),
        ],
        dim=1,
    ).double()
    q = min(q, len(choices))
    chosen, _ = optimize_acqf_discrete(acq, q=q, choices=choices, unique=True)
    return chosen[:, 1:].round().long().numpy()


class SearchState:
    """Observations of the search: one row per evaluated (round, label, triple)."""

    def __init__(self, n_classes):
        self.n_classes = n_classes
        self.rows = []  # (round, stage, label, triple, reward)
        self.stats = [dict() for _ in range(n_classes)]

    def record(self, round_, stage, triples, rewards):
        for label in range(self.n_classes):
            triple = tuple(int(v) for v in triples[label])
            reward = float(rewards[label])
            self.rows.append((round_, stage, label, triple, reward))
            mean, count = self.stats[label].get(triple, (0.0, 0))
            self.stats[label][triple] = (
                (mean * count + reward) / (count + 1),
                count + 1,
            )

    def training_set(self):
        labels, triples, rewards = [], [], []
        for label, stats in enumerate(self.stats):
            for triple, (mean, _) in stats.items():
                labels.append(label)
                triples.append(triple)
                rewards.append(mean)
        return np.array(labels), np.array(triples), np.array(rewards)


def run_search(
    evaluate,
    n_classes,
    *,
    n_init,
    n_rounds,
    queue_size,
    n_members,
    label_aware,
    predictor_max_epochs,
    n_jobs,
    seed,
    progress=None,
    callbacks=None,
):
    """Stage 1 of LA3. ``evaluate(triples, seed)`` -> per-class rewards.

    Returns the :class:`SearchState` and the training history of every
    predictor ensemble fitted on the way.
    """
    rng = np.random.RandomState(seed)
    state = SearchState(n_classes)
    parallel = Parallel(n_jobs=n_jobs)

    def run_rounds(batch, stage):
        start = len({r[0] for r in state.rows})
        seeds = [seed * 100003 + start + i for i in range(len(batch))]
        rewards = parallel(delayed(evaluate)(t, s) for t, s in zip(batch, seeds))
        for i, (triples, reward) in enumerate(zip(batch, rewards)):
            state.record(start + i, stage, triples, reward)
        if progress is not None:
            progress.update(len(batch))

    run_rounds(list(rng.randint(N_OPS, size=(n_init, n_classes, 3))), "init")
    done, histories = 0, []
    while done < n_rounds:
        labels, triples, rewards = state.training_set()
        members, history = fit_predictor_ensemble(
            labels,
            triples,
            rewards,
            n_classes=n_classes,
            n_members=n_members,
            label_aware=label_aware,
            epochs=predictor_max_epochs,
            seed=int(rng.randint(2**31 - 1)),
            callbacks=callbacks,
        )
        histories.append(history)
        q = min(queue_size, n_rounds - done)
        queues = []
        for label in range(n_classes):
            candidates = generate_candidates(state.stats[label], rng)
            picked = acquire(members, label, candidates, q, int(rng.randint(2**31 - 1)))
            if len(picked) < q:  # too few candidates: repeat the best
                picked = np.concatenate(
                    [picked, np.repeat(picked[:1], q - len(picked), 0)]
                )
            queues.append(picked)
        batch = [np.stack([queues[c][j] for c in range(n_classes)]) for j in range(q)]
        run_rounds(batch, "bo")
        done += q
    return state, histories


def select_policy(predicted_drop, top_k, alpha):
    """Greedy relevance + diversity (mRMR-style) selection of ``top_k`` triples.

    ``rel(a) = max p - p(a)``; the set starts from the best (lowest predicted drop)
    triple; each step adds the argmax of
    ``rel(a) + alpha * mean(rel) * mean_{b in S} |f(a) - f(b)|_1`` over op-count
    histograms ``f``. ``alpha=0`` is plain top-k.

    Parameters
    ----------
    predicted_drop : ndarray of shape (4096,)
        Predicted reward of every triple in :data:`ALL_TRIPLES` order.

    Returns
    -------
    indices : ndarray of int, shape (top_k,)
        Rows of :data:`ALL_TRIPLES`, in selection order.
    """
    rel = predicted_drop.max() - predicted_drop
    features = op_histograms(ALL_TRIPLES)
    selected = [int(np.argmax(rel))]
    distance = np.abs(features - features[selected[0]]).sum(axis=1)
    mean_rel = rel.mean()
    while len(selected) < top_k:
        score = rel + alpha * mean_rel * distance / len(selected)
        score[selected] = -np.inf
        best = int(np.argmax(score))
        selected.append(best)
        distance += np.abs(features - features[best]).sum(axis=1)
    return np.array(selected)


def predict_all(members, n_classes, label_aware):
    """Mean predicted reward of every triple for every class, shape (C, 4096)."""
    rows = range(n_classes) if label_aware else [0]
    scores = np.stack(
        [
            predict_ensemble(members, np.full(len(ALL_TRIPLES), c), ALL_TRIPLES).mean(0)
            for c in rows
        ]
    )
    return scores if label_aware else np.repeat(scores, n_classes, axis=0)
