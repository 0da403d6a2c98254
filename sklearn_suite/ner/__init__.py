"""Mulco nested NER: :class:`MulcoTagger`, its scope helpers and baselines."""

from sklearn_suite.ner._baselines import (
    FlatBIESTagger,
    SpanEnumerationTagger,
    flat_subset,
)
from sklearn_suite.ner._features import TextFeatures, load_lexicon, word_sets
from sklearn_suite.ner._mulco import MulcoTagger
from sklearn_suite.ner._scopes import SEQUENCES, decode_scopes, encode_scopes

__all__ = [
    "SEQUENCES",
    "FlatBIESTagger",
    "MulcoTagger",
    "SpanEnumerationTagger",
    "TextFeatures",
    "decode_scopes",
    "encode_scopes",
    "flat_subset",
    "load_lexicon",
    "word_sets",
]
