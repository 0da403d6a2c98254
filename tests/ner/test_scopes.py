"""Mulco's scope encoding and decoding."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_suite.ner import SEQUENCES, decode_scopes, encode_scopes
from sklearn_suite.ner._scopes import decode_scopes_batch

LABELS = ["Person", "Location", "Time"]


@st.composite
def span_sets(draw, max_len=8):
    n = draw(st.integers(1, 30))
    spans = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1), st.integers(1, max_len), st.sampled_from(LABELS)
            ),
            max_size=12,
        )
    )
    entities = {(s, min(n, s + length), label) for s, length, label in spans}
    # one label per span, as in ChiNesE
    by_span = {}
    for s, e, label in sorted(entities):
        by_span.setdefault((s, e), label)
    return n, sorted((s, e, c) for (s, e), c in by_span.items())


def _anchor(scope, start, end):
    return {"B": start, "E": end - 1, "C": start + end - 1}[scope]


def _representable(n, entities):
    """Every entity is the shortest or the longest at one of its anchors."""
    for s, e, _ in entities:
        ok = False
        for scope in "BEC":
            here = _anchor(scope, s, e)
            same = [e2 - s2 for s2, e2, _ in entities if _anchor(scope, s2, e2) == here]
            ok |= (e - s) in (min(same), max(same))
        if not ok:
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(span_sets())
def test_decoding_never_invents_and_recovers_representable_sets(case):
    n, entities = case
    decoded = decode_scopes(n, encode_scopes(n, entities, max_entity_length=8))
    assert set(decoded) <= set(entities)
    if _representable(n, entities):
        assert decoded == entities


@settings(max_examples=100, deadline=None)
@given(span_sets())
def test_each_scope_subset_only_loses(case):
    n, entities = case
    found = [
        set(
            decode_scopes(
                n, encode_scopes(n, entities, max_entity_length=8, scopes=scopes)
            )
        )
        for scopes in ("B", "BE", "BEC")
    ]
    assert found[0] <= found[1] <= found[2] <= set(entities)


def test_sequence_lengths_and_centre_anchors():
    # "ABCD": an odd entity [0, 3) centres on character 1 (anchor 2), an even one
    # [0, 4) on the gap between characters 1 and 2 (anchor 3)
    seqs = encode_scopes(4, [(0, 3, "Time"), (0, 4, "Person")])
    assert set(seqs) == set(SEQUENCES)
    assert all(len(seqs[n][0]) == 4 for n in ("Bmin", "Bmax", "Emin", "Emax"))
    assert len(seqs["Cmin"][0]) == 7
    assert seqs["Cmin"][0][2] == "Time" and seqs["Cmin"][1][2] == 3
    assert seqs["Cmin"][0][3] == "Person" and seqs["Cmin"][1][3] == 4
    # both begin at 0: min is the shorter, max the longer
    assert (seqs["Bmin"][0][0], seqs["Bmin"][1][0]) == ("Time", 3)
    assert (seqs["Bmax"][0][0], seqs["Bmax"][1][0]) == ("Person", 4)


def test_three_entities_on_one_anchor_need_several_scopes():
    entities = [(0, 1, "Time"), (0, 2, "Location"), (0, 3, "Person")]
    b_only = decode_scopes(3, encode_scopes(3, entities, scopes="B"))
    assert (0, 2, "Location") not in b_only  # neither shortest nor longest at B
    assert decode_scopes(3, encode_scopes(3, entities)) == entities


def test_decoder_drops_impossible_spans_and_keeps_the_confident_label():
    seqs = {
        "Bmin": ([None, "Time"], [0, 5]),  # runs past the end
        "Cmin": (["Person", None, None], [2, 0, 0]),
    }  # parity does not fit
    assert decode_scopes(2, seqs) == []
    seqs = {"Bmin": (["Time", None], [2, 0]), "Emin": ([None, "Person"], [0, 2])}
    conf = {"Bmin": [0.4, 0.0], "Emin": [0.0, 0.9]}
    assert decode_scopes(2, seqs, conf) == [(0, 2, "Person")]


def test_long_entities_are_clipped():
    seqs = encode_scopes(10, [(0, 10, "Event")], max_entity_length=4)
    assert seqs["Bmin"][1][0] == 4


def test_decoding_thresholds():
    """min_votes keeps spans given by several sequences; min_confidence drops
    unconfident anchor labels; the defaults are the paper's union."""
    entities = [(0, 3, "LOC"), (4, 6, "PER")]
    sequences = encode_scopes(8, entities)
    assert decode_scopes(8, sequences) == entities
    # a stray label on one sequence only: in the union, gone with two votes
    labels, lengths = sequences["Bmin"]
    labels, lengths = labels.copy(), lengths.copy()
    labels[6], lengths[6] = "ORG", 2
    noisy = {**sequences, "Bmin": (labels, lengths)}
    assert (6, 8, "ORG") in decode_scopes(8, noisy)
    assert decode_scopes(8, noisy, min_votes=2) == entities
    confidences = {name: np.full(len(seq[0]), 0.9) for name, seq in noisy.items()}
    confidences["Bmin"][6] = 0.2
    assert decode_scopes(8, noisy, confidences, min_confidence=0.5) == entities
    assert (6, 8, "ORG") in decode_scopes(8, noisy, confidences, min_confidence=0.1)


def test_span_training_batches_sample_negatives():
    import math

    import torch

    from sklearn_suite.ner._baselines import IGNORE, NEGATIVE_RATE, SpanBatch

    lengths = torch.tensor([30, 7])
    targets = [{(0, 2): 1, (3, 3): 2}, {(1, 4): 1}]
    torch.manual_seed(0)
    extra, gold = SpanBatch(max_width=10)(lengths, targets)
    spans = extra["spans"]
    assert spans.shape[:2] == gold.shape and spans.shape[0] == 2
    for b, n in enumerate(lengths.tolist()):
        real = gold[b] != IGNORE
        assert (gold[b][real] != 0).sum() == len(targets[b])  # every entity
        assert (gold[b][real] == 0).sum() == math.ceil(NEGATIVE_RATE * n)
        # the sampled negatives are real non-entity spans within the width
        for (sb, s, e), g in zip(spans[b][real].tolist(), gold[b][real].tolist()):
            assert sb == b and 0 <= e - s < 10 and targets[b].get((s, e), 0) == g


@settings(max_examples=100, deadline=None)
@given(st.lists(span_sets(), min_size=1, max_size=5), st.integers(0, 2**31))
def test_batch_decoding_equals_one_sentence_at_a_time(cases, seed):
    """Sentences decoded together, their sequences padded with stray labels
    past their ends, give what each gives alone."""
    rng = np.random.RandomState(seed)
    width = 2 * max(n for n, _ in cases) + 2
    names = list(SEQUENCES)
    labels = np.full((len(cases), len(names), width), None, dtype=object)
    lengths = rng.randint(1, 9, size=labels.shape)  # strays everywhere...
    labels[rng.rand(*labels.shape) < 0.2] = "Time"
    conf = rng.rand(*labels.shape)
    alone = {1: [], 2: []}
    for i, (n, entities) in enumerate(cases):
        # ... but each sentence's own anchors carry its entities
        for j, name in enumerate(names):
            own, own_len = encode_scopes(n, entities, max_entity_length=8)[name]
            labels[i, j, : len(own)], lengths[i, j, : len(own)] = own, own_len
        seqs = {
            name: (labels[i, j, : 2 * n - 1], lengths[i, j, : 2 * n - 1])
            for j, name in enumerate(names)
        }
        confs = {name: conf[i, j, : 2 * n - 1] for j, name in enumerate(names)}
        for votes in alone:
            alone[votes].append(
                decode_scopes(n, seqs, confs, min_confidence=0.3, min_votes=votes)
            )
    batch = {name: (labels[:, j], lengths[:, j]) for j, name in enumerate(names)}
    confs = {name: conf[:, j] for j, name in enumerate(names)}
    for votes, expected in alone.items():
        got = decode_scopes_batch(
            [n for n, _ in cases], batch, confs, min_confidence=0.3, min_votes=votes
        )
        assert got == expected


def _reference_decode(text_len, sequences, confidences, min_confidence, min_votes):
    """The decoder written as the paper describes it, one anchor at a time."""
    best, votes = {}, {}
    for name, (labels, lengths) in sequences.items():
        conf = None if confidences is None else confidences.get(name)
        for a, (label, length) in enumerate(zip(labels, lengths)):
            if length <= 0 or label is None:
                continue
            c = 0.0 if conf is None else float(conf[a])
            if conf is not None and c < min_confidence:
                continue
            s = {"B": a, "E": a - length + 1, "C": (a - length + 1) / 2}[name[0]]
            if s != int(s) or s < 0 or s + length > text_len:
                continue
            key = (int(s), int(s) + int(length))
            votes[key] = votes.get(key, 0) + 1
            if key not in best or c > best[key][1]:
                best[key] = (label, c)
    return sorted(
        (s, e, label) for (s, e), (label, _) in best.items() if votes[s, e] >= min_votes
    )


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 12),
    st.data(),
    st.sampled_from([None, (0.2, 0.5, 0.9)]),
    st.integers(0, 3),
)
def test_decoder_equals_the_one_anchor_at_a_time_reference(n, data, levels, votes):
    """Random labels on random sequences, confidences with ties: the vectorised
    decoder keeps exactly the reference's spans, labels and tie-breaks."""
    names = data.draw(st.lists(st.sampled_from(SEQUENCES), unique=True, min_size=1))
    sequences, confidences = {}, {}
    for name in names:
        size = 2 * n - 1 if name[0] == "C" else n
        labels = data.draw(
            st.lists(st.sampled_from([None, *LABELS]), min_size=size, max_size=size)
        )
        lengths = data.draw(st.lists(st.integers(0, 6), min_size=size, max_size=size))
        sequences[name] = (labels, lengths)
        if levels is not None and data.draw(st.booleans()):  # some have none
            confidences[name] = data.draw(
                st.lists(st.sampled_from(levels), min_size=size, max_size=size)
            )
    confidences = None if levels is None else confidences
    expected = _reference_decode(n, sequences, confidences, 0.3, votes)
    got = decode_scopes(n, sequences, confidences, min_confidence=0.3, min_votes=votes)
    assert got == expected
    assert all(type(label) is str for _, _, label in got)
