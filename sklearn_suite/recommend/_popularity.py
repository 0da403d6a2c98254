"""PopularityRecommender: the most interacted-with unseen items (a baseline)."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sklearn_suite.base import TorchEstimatorMixin, fit_method
from sklearn_suite.recommend._base import check_interactions, check_users
from sklearn_suite.recommend._protocols import FullRankingScoreMixin


class PopularityRecommender(TorchEstimatorMixin, FullRankingScoreMixin, BaseEstimator):
    """Recommends each domain's most interacted-with items the user has not seen.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_suite.recommend import PopularityRecommender
    >>> X = pd.DataFrame({"user": [1, 2, 2, 3], "item": ["a", "a", "b", "c"],
    ...                   "domain": "books"})
    >>> PopularityRecommender().fit(X).recommend([3], "books", k=2)["item"].tolist()
    ['a', 'b']
    """

    _parameter_constraints: dict = {}

    def _rebuild_modules(self):
        """For :meth:`load`: counts only, no network."""

    @fit_method
    def fit(self, X, y=None):
        """Count interactions per item.

        Parameters
        ----------
        X : pandas.DataFrame
            Columns ``user``, ``item``, ``domain``.
        y : None
            Ignored.

        Returns
        -------
        self : PopularityRecommender
        """
        X = check_interactions(X)
        self.counts_ = {
            domain: rows["item"].value_counts(sort=True)
            for domain, rows in X.groupby("domain", sort=False)
        }
        self.seen_ = X.groupby(["domain", "user"])["item"].apply(set).to_dict()
        return self

    def predict(self, X):
        """Training count of each row's item in its domain (0 when unseen).

        Parameters
        ----------
        X : pandas.DataFrame
            Columns ``user``, ``item``, ``domain``.

        Returns
        -------
        scores : ndarray of shape (n_rows,)
        """
        check_is_fitted(self, "counts_")
        X = check_interactions(X)
        scores = np.zeros(len(X))
        for domain, rows in X.groupby("domain", sort=False).indices.items():
            counts = self.counts_.get(domain)
            if counts is None:
                raise ValueError(
                    f"unknown domain {domain!r}; fitted on {list(self.counts_)}."
                )
            found = counts.reindex(X["item"].to_numpy()[rows]).fillna(0)
            scores[rows] = found.to_numpy()
        return scores

    def recommend(self, users, domain, k=10, exclude_seen=True):
        """Top-``k`` unseen popular items per user.

        Parameters
        ----------
        users : sequence
        domain : hashable
        k : int, default=10
        exclude_seen : bool, default=True

        Returns
        -------
        recommendations : pandas.DataFrame
            Columns ``user``, ``item``, ``score`` (interaction count), ``rank``.
        """
        if domain not in getattr(self, "counts_", {}):
            check_is_fitted(self, "counts_")
            raise ValueError(
                f"unknown domain {domain!r}; fitted on {list(self.counts_)}."
            )
        counts = self.counts_[domain]
        rows = []
        for user in check_users(users):
            seen = self.seen_.get((domain, user), set()) if exclude_seen else set()
            top = [i for i in counts.index[: k + len(seen)] if i not in seen][:k]
            rows += [(user, i, counts[i], r) for r, i in enumerate(top, 1)]
        return pd.DataFrame(rows, columns=["user", "item", "score", "rank"])
