import numpy as np
import pandas as pd

from sklearn_suite.datasets import make_cross_domain_sequences


def test_sparse_domain_does_not_depend_on_overlap():
    a = make_cross_domain_sequences(n_users=(150, 100), overlap=0.0, random_state=3)
    b = make_cross_domain_sequences(n_users=(150, 100), overlap=0.5, random_state=3)
    for part in ("train", "valid", "test"):
        pa, pb = (x[part][x[part].domain == 1].reset_index(drop=True) for x in (a, b))
        pd.testing.assert_frame_equal(pa, pb)
    assert len(a.overlap_users) == 0 and len(b.overlap_users) == 50
    both = set(b.train[b.train.domain == 0].user) & set(
        b.train[b.train.domain == 1].user
    )
    assert both == set(b.overlap_users)
    assert b.train.groupby("domain").user.nunique().tolist() == [150, 100]


def test_leave_one_out_in_time_order():
    data = make_cross_domain_sequences(n_users=(80, 60), random_state=0)
    key = ["user", "domain"]
    last_train = data.train.groupby(key).timestamp.max()
    valid = data.valid.set_index(key).timestamp
    test = data.test.set_index(key).timestamp
    assert len(valid) == len(test) == 140
    assert (valid.loc[last_train.index] > last_train).all()
    assert (test.loc[valid.index] > valid).all()
    # items are drawn without replacement within a sequence
    full = pd.concat([data.train, data.valid, data.test])
    assert not full.duplicated(["user", "domain", "item"]).any()


def test_order_carries_information():
    def neighbour_share(transition):
        data = make_cross_domain_sequences(
            n_users=(20, 300), overlap=0.0, transition=transition, random_state=1
        )
        q = data.item_factors[1]
        unit = q / np.linalg.norm(q, axis=1, keepdims=True)
        near = np.argsort(-(unit @ unit.T), axis=1)[:, 1:6]
        seqs = data.train[data.train.domain == 1].groupby("user").item.apply(list)
        pairs = [(a, b) for s in seqs for a, b in zip(s, s[1:])]
        return np.mean([b in near[a] for a, b in pairs])

    with_transitions, without = neighbour_share(2.0), neighbour_share(0.0)
    assert with_transitions > 0.2 > without
