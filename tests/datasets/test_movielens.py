"""The MovieLens-100K genre-domain reader, on small files in RecBole's format."""

from unittest import mock

import pandas as pd
import pytest

from sklearn_suite.datasets import load_movielens_domains, movielens_100k_path


def _write(folder, ratings, movies):
    inter = pd.DataFrame(
        ratings, columns=["user_id:token", "item_id:token", "rating:float",
                          "timestamp:float"],
    )  # fmt: skip
    inter.to_csv(folder / "ml-100k.inter", sep="\t", index=False)
    item = pd.DataFrame(
        movies, columns=["item_id:token", "movie_title:token_seq",
                         "release_year:token", "class:token_seq"],
    )  # fmt: skip
    item.to_csv(folder / "ml-100k.item", sep="\t", index=False)


@pytest.fixture
def folder(tmp_path):
    movies = [
        (1, "A", 1990, "Drama"),
        (2, "B", 1990, "Drama Comedy"),  # drama is listed first: a drama item
        (3, "C", 1991, "Comedy"),
        (4, "D", 1992, "Comedy Romance"),
        (5, "E", 1993, "Horror"),  # no listed genre: dropped
        (6, "F", 1994, "Comedy"),
    ]
    ratings = [
        # user 7: four drama-domain ratings (one too low), comedy in time order
        (7, 1, 5, 100), (7, 2, 4, 300), (7, 5, 5, 50),
        (7, 3, 4, 200), (7, 4, 5, 400), (7, 6, 4, 500), (7, 1, 2, 600),
        # user 8: two comedy items only (too few for a held-out pair)
        (8, 3, 5, 10), (8, 6, 4, 5),
    ]  # fmt: skip
    _write(tmp_path, ratings, movies)
    return tmp_path


DOMAINS = {"drama": ["Drama"], "comedy": ["Comedy"]}


def test_genre_split_first_listed_domain_wins_and_unlisted_movies_drop(folder):
    data = load_movielens_domains(DOMAINS, sparse=None, path=folder)
    owner = dict(zip(data.movies["item"], data.movies["domain"]))
    assert owner == {1: "drama", 2: "drama", 3: "comedy", 4: "comedy", 6: "comedy"}
    every = pd.concat([data.train, data.valid, data.test])
    assert 5 not in set(every["item"])  # horror
    assert (every["rating"] >= 4).all()  # min_rating
    assert len(every) == 7
    assert list(data.train.columns) == ["user", "item", "domain", "timestamp",
                                        "rating"]  # fmt: skip


def test_leave_one_out_in_time_order_per_user_and_domain(folder):
    data = load_movielens_domains(DOMAINS, sparse=None, path=folder)
    pairs = {
        name: sorted(map(tuple, getattr(data, name)[["user", "item"]].to_numpy()))
        for name in ("train", "valid", "test")
    }
    # user 7 comedy (3 @200, 4 @400, 6 @500): last is test, then valid
    assert (7, 6) in pairs["test"] and (7, 4) in pairs["valid"]
    assert (7, 3) in pairs["train"]
    # user 7 drama has two interactions, user 8 comedy two: all training
    assert {(7, 1), (7, 2), (8, 3), (8, 6)} <= set(pairs["train"])
    assert pairs["test"] == [(7, 6)] and pairs["valid"] == [(7, 4)]


def test_sparse_domain_keeps_each_users_last_n(folder):
    data = load_movielens_domains(DOMAINS, sparse={"comedy": 1}, path=folder)
    comedy = pd.concat([data.train, data.valid, data.test]).query("domain == 'comedy'")
    assert sorted(map(tuple, comedy[["user", "item"]].to_numpy())) == [(7, 6), (8, 3)]
    assert data.test.empty  # one per user is too few to hold out
    with pytest.raises(ValueError, match="not in domains"):
        load_movielens_domains(DOMAINS, sparse={"horror": 2}, path=folder)
    with pytest.raises(ValueError, match="genres"):
        load_movielens_domains({"drama": "Drama"}, path=folder)


def test_missing_recbole_names_the_extra():
    with mock.patch("importlib.util.find_spec", return_value=None):
        with pytest.raises(ImportError, match="movielens"):
            movielens_100k_path()
