"""The practitioner's flat tool for Chinese NER: a linear-chain CRF over
character n-gram window features (sklearn-crfsuite), tagging BIES over the
outermost entities. A benchmark baseline only (``pip install sklearn-crfsuite``).
"""

from sklearn_suite.ner import flat_subset


def char_features(text, i):
    """Unigrams in a +-2 window, bigrams and trigrams around character i."""
    pad = "\x02\x02" + text + "\x03\x03"
    j = i + 2
    feats = {"bias": 1.0}
    for k in range(-2, 3):
        feats[f"c[{k}]={pad[j + k]}"] = 1.0
    for k in range(-2, 2):
        feats[f"b[{k}]={pad[j + k : j + k + 2]}"] = 1.0
    for k in range(-2, 1):
        feats[f"t[{k}]={pad[j + k : j + k + 3]}"] = 1.0
    return feats


def bies_tags(text, entities):
    tags = ["O"] * len(text)
    for s, e, c in flat_subset(entities):
        if e - s == 1:
            tags[s] = f"S-{c}"
        else:
            tags[s], tags[e - 1] = f"B-{c}", f"E-{c}"
            for k in range(s + 1, e - 1):
                tags[k] = f"I-{c}"
    return tags


def decode_bies(tags):
    spans, start = [], None
    for i, tag in enumerate(tags):
        kind, _, label = tag.partition("-")
        if kind == "S":
            spans.append((i, i + 1, label))
            start = None
        elif kind == "B":
            start = (i, label)
        elif kind in "IE" and kind and start is not None and start[1] == label:
            if kind == "E":
                spans.append((start[0], i + 1, label))
                start = None
        else:
            start = None
    return spans


class FlatCRF:
    """fit(X, y) / predict(X) with the taggers' span format."""

    def __init__(self, c1=0.05, c2=0.05, max_iterations=200):
        self.c1, self.c2, self.max_iterations = c1, c2, max_iterations

    def _features(self, X):
        return [[char_features(t, i) for i in range(len(t))] for t in X]

    def fit(self, X, y):
        import sklearn_crfsuite

        self.crf_ = sklearn_crfsuite.CRF(
            algorithm="lbfgs",
            c1=self.c1,
            c2=self.c2,
            max_iterations=self.max_iterations,
            all_possible_transitions=True,
        )
        self.crf_.fit(self._features(X), [bies_tags(t, e) for t, e in zip(X, y)])
        return self

    def predict(self, X):
        return [decode_bies(tags) for tags in self.crf_.predict(self._features(X))]
