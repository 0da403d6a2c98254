"""Mulco nested NER: :class:`MulcoTagger`, its scope helpers and baselines."""

from sklearn_suite.ner._baselines import (
    FlatBIESTagger,
    SpanEnumerationTagger,
    flat_subset,
)
from sklearn_suite.ner._mulco import MulcoTagger
from sklearn_suite.ner._scopes import SEQUENCES, decode_scopes, encode_scopes

__all__ = [
    "SEQUENCES",
    "FlatBIESTagger",
    "MulcoTagger",
    "SpanEnumerationTagger",
    "decode_scopes",
    "encode_scopes",
    "flat_subset",
]
