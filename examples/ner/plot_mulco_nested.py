"""
==========================================
Nested Chinese NER with Mulco's scopes
==========================================

:class:`~sklearn_suite.MulcoTagger` writes every entity down at three anchors
(begin, end, centre) with the shortest and the longest entity per anchor, so
nested entities such as a city inside an organisation inside an event survive.
A flat BIES tagger with the same encoder can only ever emit non-overlapping spans.
"""

# %%
# Generated sentences with nested entities
# ----------------------------------------
from sklearn_suite import MulcoTagger
from sklearn_suite.datasets import make_nested_ner
from sklearn_suite.metrics import inner_entity_recall, span_precision_recall_f1
from sklearn_suite.ner import FlatBIESTagger, decode_scopes, encode_scopes

X_train, y_train = make_nested_ner(600, random_state=0)
X_test, y_test = make_nested_ner(200, random_state=1)
text, entities = X_train[0], y_train[0]
print(text)
for start, end, label in entities:
    print(f"  {text[start:end]}  {label}  [{start}, {end})")

# %%
# The six label sequences and the oracle round trip
# -------------------------------------------------
# Decoding the encoded gold spans recovers more entities the more scopes are used.
for scopes in ("B", "BE", "BEC"):
    found = [
        decode_scopes(len(x), encode_scopes(len(x), e, scopes=scopes))
        for x, e in zip(X_test, y_test)
    ]
    print(scopes, "oracle recall", round(span_precision_recall_f1(y_test, found)[1], 4))

# %%
# Mulco against a flat tagger with the same encoder
# -------------------------------------------------
params = dict(hidden=64, emb_dim=64, latent=64, max_epochs=15, random_state=0)
mulco, flat = MulcoTagger(**params), FlatBIESTagger(**params)
for tagger in (mulco, flat):
    tagger.fit(X_train, y_train)
    pred = tagger.predict(X_test)
    p, r, f = span_precision_recall_f1(y_test, pred)
    print(
        f"{type(tagger).__name__:15s} P={p:.3f} R={r:.3f} F1={f:.3f} "
        f"inner-entity recall={inner_entity_recall(y_test, pred):.3f}"
    )

# %%
# One sentence, with its nested predictions
sentence = X_test[0]
print(sentence)
for start, end, label in mulco.predict([sentence])[0]:
    print(f"  {' ' * start}{sentence[start:end]}  {label}")
