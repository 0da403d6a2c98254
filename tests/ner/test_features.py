"""The encoder's inputs: character bigrams and SoftLexicon word sets."""

import joblib
import numpy as np
import pytest
import torch

from sklearn_suite import MulcoTagger
from sklearn_suite.datasets import make_nested_ner
from sklearn_suite.ner import FlatBIESTagger, TextFeatures, load_lexicon, word_sets
from sklearn_suite.ner._features import NONE_WORD, UNK, UNK_WORD

LEXICON = {
    "南京": 10,
    "南京市": 5,
    "长江": 8,
    "长江大桥": 3,
    "大桥": 4,
    "市长": 6,
    "江": 2,
}
TINY = dict(max_epochs=2, hidden=16, emb_dim=16, latent=16, random_state=0)


def test_word_sets_of_a_known_sentence():
    """The classic ambiguity 南京市长江大桥: every dictionary word lands in the
    B/M/E/S set of each character it covers."""
    sets = word_sets("南京市长江大桥", LEXICON, max_word_length=8)
    assert sets == [
        (["南京", "南京市"], [], [], []),
        ([], ["南京市"], ["南京"], []),
        (["市长"], [], ["南京市"], []),
        (["长江", "长江大桥"], [], ["市长"], []),
        ([], ["长江大桥"], ["长江"], ["江"]),
        (["大桥"], ["长江大桥"], [], []),
        ([], [], ["长江大桥", "大桥"], []),
    ]
    # words longer than max_word_length are not matched
    assert word_sets("长江大桥", LEXICON, max_word_length=3)[1] == (
        [],
        [],
        ["长江"],
        ["江"],
    )


def test_text_features_tensors():
    features = TextFeatures(bigrams=True, lexicon=LEXICON, max_words=1)
    features.fit(["南京市长江大桥"])
    out = features.transform(["南京市长江大桥", "北海"])
    assert out["ids"].shape == (2, 7) and out["lengths"].tolist() == [7, 2]
    assert out["ids"][1, :2].tolist() == [UNK, UNK]  # unseen characters
    vocab = features.bigram_vocab
    assert out["bigrams"][0, :3].tolist() == [
        vocab["南京"],
        vocab["京市"],
        vocab["市长"],
    ]
    assert out["bigrams"][1, 0] == UNK  # 北海 never seen in training
    words, weights = out["words"], out["word_weights"]
    assert words.shape == (2, 7, 4, 1) and weights.shape == words.shape
    # max_words=1 keeps the most frequent word: 南京 (10) over 南京市 (5)
    assert words[0, 0, 0, 0] == features.word_vocab["南京"]
    assert words[0, 0, 1, 0] == NONE_WORD and weights[0, 0, 1, 0] == 1.0
    assert words[1, 0].eq(NONE_WORD).all()  # 北海 is not in this dictionary
    assert weights[0, 0, 0, 0] == pytest.approx(np.log1p(10) + 1)
    # a dictionary word met only after fit is a known-unknown word
    late = TextFeatures(lexicon=LEXICON).fit(["南京"]).transform(["大桥"])
    assert late["words"][0, 0, 0, 0] == UNK_WORD


def test_jieba_lexicon_is_read_from_the_wheel():
    lexicon = load_lexicon("jieba")
    assert len(lexicon) > 300_000 and lexicon["北京"] > 0
    with pytest.raises(ValueError, match="unknown lexicon"):
        load_lexicon("hownet")


def test_lexicon_reaches_the_encoder():
    """Changing a word embedding changes Mulco's outputs; changing a bigram
    embedding too: both features are wired into the encoder."""
    X, y = make_nested_ner(40, random_state=0)
    tagger = MulcoTagger(bigrams=True, lexicon=LEXICON | {"北京": 9}, **TINY)
    tagger.fit(X, y)
    encoder = tagger.module_.encoder.eval()
    inputs = tagger.features_.transform(X[:8])
    before = encoder(**inputs)
    with torch.no_grad():
        encoder.word_embed.weight.add_(1.0)
    assert not torch.allclose(before, encoder(**inputs))
    with torch.no_grad():
        encoder.bigram_embed.weight.mul_(-1.0)
    assert not torch.allclose(before, encoder(**inputs))


@pytest.mark.parametrize("cls", [MulcoTagger, FlatBIESTagger])
@pytest.mark.parametrize(
    "options", [{"bigrams": True}, {"lexicon": "jieba"}], ids=["bigrams", "jieba"]
)
def test_feature_options_are_deterministic_and_persist(cls, options, tmp_path):
    X, y = make_nested_ner(40, random_state=0)
    first = cls(**options, **TINY).fit(X, y)
    second = cls(**options, **TINY).fit(X, y)
    assert first.predict(X) == second.predict(X)
    logits = first.module_.encoder.eval()(**first.features_.transform(X[:5]))
    joblib.dump(first, tmp_path / "m.joblib")
    first.save(tmp_path / "m.safetensors")
    for loaded in (
        joblib.load(tmp_path / "m.joblib"),
        cls.load(tmp_path / "m.safetensors"),
    ):
        assert loaded.predict(X) == first.predict(X)
        again = loaded.module_.encoder.eval()(**loaded.features_.transform(X[:5]))
        torch.testing.assert_close(again, logits)


def test_bad_lexicon_is_a_named_error():
    X, y = make_nested_ner(20, random_state=0)
    with pytest.raises(ValueError, match="'lexicon' parameter"):
        MulcoTagger(lexicon="hownet", **TINY).fit(X, y)
    with pytest.raises(ValueError, match="'bigrams' parameter"):
        MulcoTagger(bigrams="yes", **TINY).fit(X, y)
