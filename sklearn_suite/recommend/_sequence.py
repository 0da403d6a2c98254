"""Plumbing of the sequential recommenders: timestamp checks, per-user sequences
in time order, left padding, and the sampled-candidate ``score``."""

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from sklearn_suite.metrics import hit_rate_at_k
from sklearn_suite.recommend._base import (
    EmbeddingRecommenderMixin,
    InteractionIndex,
    check_interactions,
)
from sklearn_suite.recommend._protocols import sampled_ranking_metrics

COLUMNS = ("user", "item", "domain", "timestamp")


def check_sequences(X, name="X"):
    """Validate timestamped interactions; return them with a float ``timestamp``."""
    X = check_interactions(X, COLUMNS, name)
    t = X["timestamp"]
    if pd.api.types.is_datetime64_any_dtype(t):
        t = t.astype("int64").astype(float)
    elif pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t):
        t = t.astype(float)
    else:
        raise TypeError(
            f"{name}['timestamp'] must be numeric or datetime; got dtype {t.dtype}."
        )
    if not np.isfinite(t).all():
        raise ValueError(f"{name}['timestamp'] contains inf.")
    return X.assign(timestamp=t)


class SequenceStore:
    """Each (user, domain)'s item codes (1-based; 0 pads) in time order, ties kept
    in row order, and the time of its latest interaction."""

    def __init__(self, n_users, n_domains):
        self.seqs = [[np.empty(0, dtype=np.int64)] * n_users for _ in range(n_domains)]
        self.last = np.full((n_domains, n_users), -np.inf)

    def add(self, users, items, domains, times):
        """Append interactions (codes, 0-based items) after the stored ones."""
        order = np.lexsort((np.arange(len(times)), times))
        frame = pd.DataFrame(
            {"u": users[order], "i": items[order] + 1, "d": domains[order]}
        )
        for (d, u), rows in frame.groupby(["d", "u"], sort=False)["i"]:
            self.seqs[d][u] = np.concatenate([self.seqs[d][u], rows.to_numpy()])
        np.maximum.at(self.last, (domains, users), times)
        return self

    def check_after(self, users, domains, times, name):
        """Held-out interactions must not precede the history they follow."""
        early = times < self.last[domains, users]
        if early.any():
            raise ValueError(
                f"{name} has {int(early.sum())} interactions with a timestamp "
                "earlier than the user's history in that domain (non-monotonic "
                "timestamps); held-out items must follow the history."
            )

    def lengths(self, d, users):
        return np.array([len(self.seqs[d][u]) for u in users], dtype=int)

    def padded(self, d, users, length, eos=None):
        """Left-padded matrix of the most recent items, ``eos`` last when given:
        at most ``length`` columns, fewer when every row is shorter (positions
        count from the end and padding is masked, so the models' outputs do not
        depend on the extra padding; short sequences then cost less)."""
        room = length - (eos is not None)
        seqs = [self.seqs[d][u][-room:] if room else self.seqs[d][u][:0] for u in users]
        longest = max(map(len, seqs), default=0)
        room = longest if eos is not None else max(longest, 1)  # never empty
        out = np.zeros((len(users), room + (eos is not None)), dtype=np.int64)
        for row, seq in enumerate(seqs):
            out[row, room - len(seq) : room] = seq
        if eos is not None:
            out[:, -1] = eos
        return torch.as_tensor(out)

    def codes(self):
        """(users, items, domains) codes of every stored interaction, items
        0-based."""
        users, items, domains = [], [], []
        for d, per_user in enumerate(self.seqs):
            for u, seq in enumerate(per_user):
                users.append(np.full(len(seq), u))
                items.append(seq - 1)
                domains.append(np.full(len(seq), d))
        return tuple(np.concatenate(a).astype(int) for a in (users, items, domains))


class SequentialRecommenderMixin(EmbeddingRecommenderMixin):
    """Index, histories and sampled-candidate ``score`` of the sequential
    recommenders. A user is cold in a domain where it has no history."""

    def _index_sequences(self, X, X_valid):
        """Fit the index on ``X``; return the training store, the validation rows
        (codes) and whether they exist."""
        X = check_sequences(X)
        index = InteractionIndex().fit(X)
        self._adopt_index(index)
        n_users, n_domains = len(index.users_), len(index.domains_)
        users, items, domains = index.encode(X)
        store = SequenceStore(n_users, n_domains).add(
            users, items, domains, X["timestamp"].to_numpy()
        )
        valid = None
        if X_valid is not None:
            X_valid = check_sequences(X_valid, "X_valid")
            vu, vi, vd = index.encode(X_valid)
            keep = (vu >= 0) & (vi >= 0)
            vt = X_valid["timestamp"].to_numpy()
            store.check_after(vu[keep], vd[keep], vt[keep], "X_valid")
            valid = (vu[keep], vi[keep], vd[keep], vt[keep])
        return store, valid

    def _finish_histories(self, store, valid):
        """Histories used at inference: training plus validation interactions
        (leave-one-out: validation items precede the test items)."""
        if valid is not None:
            store.add(*valid)
        self._store = store
        self._remember_known(store.codes())

    def _has_vector(self, user_codes, d):
        known = user_codes >= 0
        known[known] = self._store.lengths(d, user_codes[known]) > 0
        return known

    def _batched(self, fn, user_codes, d):
        """``fn(codes, d)`` over ``eval_batch_size`` users at a time, concatenated."""
        size = self.eval_batch_size
        return torch.cat(
            [
                fn(user_codes[start : start + size], d)
                for start in range(0, len(user_codes), size)
            ]
        )

    def _user_vectors(self, user_codes, d):
        return self._batched(self._sequence_vectors, user_codes, d)

    def _pick_users(self, users, rng):
        """A random training batch (with replacement) of ``users``."""
        return users[rng.randint(len(users), size=min(self.batch_size, len(users)))]

    def _validation(self, valid, targets):
        """HR@10 of the validation items of the target domains against 99 fixed
        uniform negatives, conditioned on the training sequences only."""
        vu, vi, vd, _ = valid
        rows = np.isin(vd, targets)
        vu, vi, vd = vu[rows], vi[rows], vd[rows]
        rng = np.random.RandomState(0)
        negatives = np.empty((len(vi), 99), dtype=int)
        for d in np.unique(vd):
            here = vd == d
            negatives[here] = rng.randint(
                len(self.items_[self.domains_[d]]), size=(int(here.sum()), 99)
            )
        candidates = np.column_stack([vi, negatives])

        def validate():
            self._eval_mode()
            scores = np.empty(candidates.shape)
            with torch.no_grad():
                for d in np.unique(vd):
                    here = np.flatnonzero(vd == d)
                    vec = self._user_vectors(vu[here], d)
                    table = self._item_vectors(d)
                    items = table[torch.as_tensor(candidates[here])]
                    scores[here] = torch.einsum("bd,bcd->bc", vec, items).cpu().numpy()
            return hit_rate_at_k(scores, 10)

        return validate

    def _optimise(self, opt, loss, step, n_steps, validate, keeper, history):
        """One optimiser step; every ``eval_every`` steps (and at the last) the
        validation HR@10 is recorded and the best state kept."""
        opt.zero_grad()
        loss.backward()
        opt.step()
        if validate is not None and (
            (step + 1) % self.eval_every == 0 or step + 1 == n_steps
        ):
            history["step"].append(step + 1)
            history["valid_hr"].append(validate())
            keeper.update(-history["valid_hr"][-1])

    def known_interactions(self):
        """The interactions the model conditions on at inference (training plus
        validation), as a DataFrame ``user``, ``item``, ``domain``."""
        check_is_fitted(self, "_store")
        users, items, domains = self._store.codes()
        item_ids = np.empty(len(items), dtype=object)
        for d, dom in enumerate(self.domains_):
            rows = domains == d
            item_ids[rows] = np.asarray(self.items_[dom], dtype=object)[items[rows]]
        return pd.DataFrame(
            {
                "user": self.users_[users],
                "item": item_ids,
                "domain": np.asarray(self.domains_, dtype=object)[domains],
            }
        )

    def score(self, X, y=None, k=10, sampling="uniform", random_state=0):
        """Mean over domains of HR@``k`` of each held-out item against 199 sampled
        negatives the user never interacted with.

        Parameters
        ----------
        X : pandas.DataFrame
            Held-out interactions (``user``, ``item``, ``domain``, ``timestamp``),
            after the users' histories.
        y : None
            Ignored.
        k : int, default=10
        sampling : {"uniform", "popularity"}, default="uniform"
            Negatives uniform over the domain's items, or proportional to their
            training count ** 0.75.
        random_state : int, default=0
            Seeds the candidates: the same ``X`` always meets the same negatives.

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "_store")
        X = check_sequences(X)
        users, items, domains = self._index.encode(X)
        known = users >= 0
        self._store.check_after(
            users[known], domains[known], X["timestamp"].to_numpy()[known], "X"
        )
        scores = sampled_ranking_metrics(
            self, X, self.known_interactions(), k, 199, sampling, random_state
        )
        return float(np.mean([s["hr"] for s in scores.values()]))
