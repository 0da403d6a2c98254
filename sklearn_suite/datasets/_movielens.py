"""MovieLens-100K split into genre domains, read from the installed ``recbole``
wheel (which ships the data set; the files are never copied here)."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

DEFAULT_DOMAINS = {
    "drama": ("Drama",),
    "comedy": ("Comedy",),
    "action": ("Action", "Adventure", "Sci-Fi"),
}
DEFAULT_SPARSE = {"comedy": 4, "action": 4}


def movielens_100k_path():
    """The folder of MovieLens-100K inside the installed ``recbole`` package.

    Raises
    ------
    ImportError
        When ``recbole`` is not installed.
    """
    spec = importlib.util.find_spec("recbole")  # located, not imported
    if spec is None:
        raise ImportError(
            "MovieLens-100K is read from the optional package recbole, which ships "
            "it: pip install 'sklearn-suite[movielens]' (or, without recbole's own "
            "dependencies, pip install --no-deps recbole)."
        )
    return Path(spec.submodule_search_locations[0]) / "dataset_example" / "ml-100k"


def _read_atomic(path):
    """A RecBole atomic file: tab-separated, headers ``name:type``."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


def load_movielens_domains(domains=None, *, min_rating=4, sparse="default", path=None):
    """MovieLens-100K ratings as a cross-domain recommendation data set: movies
    split into domains by genre, leave-one-out in time order.

    A rating of at least ``min_rating`` is an interaction. A movie goes to the
    first domain (in the order given) that lists one of its genres, so every item
    belongs to one domain; movies of no listed genre are dropped. Per user and
    domain, interactions are ordered by time (ties by item id): with three or
    more, the last is the test item and the one before it the validation item;
    with fewer, all are training items.

    Parameters
    ----------
    domains : dict of str -> sequence of str, default=None
        Domain name -> MovieLens genres. None: ``{"drama": ("Drama",), "comedy":
        ("Comedy",), "action": ("Action", "Adventure", "Sci-Fi")}``.
    min_rating : int, default=4
        Ratings below it are dropped.
    sparse : dict of str -> int, None or "default", default="default"
        Domain -> n: keep only each user's last n interactions in that domain
        (before the split), making it a sparse target. "default" is
        ``{"comedy": 4, "action": 4}`` (two sparse domains beside a dense drama
        domain, with the default ``domains``); None keeps everything.
    path : str or Path, default=None
        A folder holding ``ml-100k.inter`` and ``ml-100k.item`` in RecBole's
        atomic format. None reads the copy inside the installed ``recbole``
        package.

    Returns
    -------
    data : Bunch
        ``train``, ``valid``, ``test``: DataFrames with columns ``user``,
        ``item``, ``domain``, ``timestamp``, ``rating`` (user and item ids are
        MovieLens' integers; ``domain`` the domain names), sorted by domain, user
        and time; ``movies``: DataFrame of the kept movies (``item``, ``title``,
        ``genres``, ``domain``).

    Raises
    ------
    ImportError
        When ``path`` is None and ``recbole`` is not installed.

    Examples
    --------
    >>> from sklearn_suite.datasets import load_movielens_domains
    >>> data = load_movielens_domains()  # doctest: +SKIP
    >>> data.train.groupby("domain").size()  # doctest: +SKIP
    """
    domains = dict(DEFAULT_DOMAINS if domains is None else domains)
    if not domains or any(isinstance(g, str) or not len(g) for g in domains.values()):
        raise ValueError(
            "domains must map each domain name to a non-empty sequence of genres "
            f"(e.g. {DEFAULT_DOMAINS}); got {domains!r}."
        )
    sparse = DEFAULT_SPARSE if sparse == "default" else dict(sparse or {})
    unknown = set(sparse) - set(domains)
    if unknown:
        raise ValueError(f"sparse names domains {sorted(unknown)} not in domains.")
    if any(int(n) < 1 for n in sparse.values()):
        raise ValueError(f"sparse keeps at least 1 interaction per user; {sparse}.")
    folder = movielens_100k_path() if path is None else Path(path)
    ratings = _read_atomic(folder / "ml-100k.inter")
    movies = _read_atomic(folder / "ml-100k.item")
    ratings = pd.DataFrame(
        {
            "user": ratings["user_id"].astype(int),
            "item": ratings["item_id"].astype(int),
            "rating": ratings["rating"].astype(float),
            "timestamp": ratings["timestamp"].astype(float).astype(np.int64),
        }
    )
    genres = movies["class"].str.split()
    owner = pd.Series(None, index=movies.index, dtype=object)
    for name, wanted in reversed(list(domains.items())):  # first listed wins
        owner[genres.apply(lambda g, w=set(wanted): bool(w & set(g)))] = name
    items = pd.DataFrame(
        {
            "item": movies["item_id"].astype(int),
            "title": movies["movie_title"],
            "genres": movies["class"],
            "domain": owner,
        }
    ).dropna(subset=["domain"])
    frame = ratings[ratings["rating"] >= min_rating].merge(
        items[["item", "domain"]], on="item"
    )
    frame = frame.sort_values(["domain", "user", "timestamp", "item"], kind="stable")
    for name, n in sparse.items():
        rows = frame["domain"] == name
        from_end = frame[rows].groupby("user").cumcount(ascending=False)
        frame = frame.drop(from_end.index[from_end >= int(n)])
    group = frame.groupby(["domain", "user"], sort=False)
    from_end = group.cumcount(ascending=False).to_numpy()
    long_enough = group["item"].transform("size").to_numpy() >= 3
    part = np.where(
        long_enough & (from_end == 0),
        "test",
        np.where(long_enough & (from_end == 1), "valid", "train"),
    )
    columns = ["user", "item", "domain", "timestamp", "rating"]
    return Bunch(
        **{
            name: frame.loc[part == name, columns].reset_index(drop=True)
            for name in ("train", "valid", "test")
        },
        movies=items.reset_index(drop=True),
    )
