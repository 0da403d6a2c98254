"""The Mulco row of ``sklearn-suite demo``."""

from sklearn_suite.datasets import make_nested_ner
from sklearn_suite.ner._baselines import FlatBIESTagger
from sklearn_suite.ner._mulco import MulcoTagger


def run_demo(output_dir, *, quick=False, random_state=0, verbose=0):
    """Generated nested NER: MulcoTagger against a flat BIES tagger with the same
    encoder; prints one sentence with its nested entities marked."""
    X, y = make_nested_ner(120 if quick else 800, random_state=random_state)
    X_test, y_test = make_nested_ner(
        60 if quick else 300, random_state=random_state + 1
    )
    params = dict(
        hidden=32 if quick else 64,
        emb_dim=32 if quick else 64,
        latent=32 if quick else 64,
        max_epochs=2 if quick else 15,
        random_state=random_state,
        verbose=verbose,
    )
    mulco = MulcoTagger(**params).fit(X, y)
    flat = FlatBIESTagger(**params).fit(X, y)
    sentence = X_test[0]
    lines = [sentence] + [
        f"  {'  ' * s}[{sentence[s:e]}] {label}"
        for s, e, label in mulco.predict([sentence])[0]
    ]
    print("\n".join(lines))
    return {
        "method": "MulcoTagger (scopes BEC)",
        "data": f"generated nested NER, {len(X)} train",
        "metric": "span F1",
        "ours": mulco.score(X_test, y_test),
        "baseline": flat.score(X_test, y_test),
        "baseline_name": "flat BIES tagger, same encoder",
        "pictures": [],
    }
