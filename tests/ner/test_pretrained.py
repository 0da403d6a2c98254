"""A Hugging Face encoder under the taggers, offline: a tiny randomly
initialised BERT saved to a temporary directory stands in for
bert-base-chinese."""

import joblib
import pytest
import torch

from sklearn_suite import MulcoTagger
from sklearn_suite.datasets import make_nested_ner
from sklearn_suite.ner import FlatBIESTagger

transformers = pytest.importorskip("transformers")

TINY = dict(max_epochs=2, hidden=16, latent=16, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_nested_ner(40, random_state=0)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, data):
    X, _ = data
    chars = sorted({c for text in X for c in text})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    path = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = transformers.BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})
    assert tokenizer.convert_tokens_to_ids(chars[:3]) == [5, 6, 7]
    tokenizer.save_pretrained(path)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(path)
    return path


@pytest.mark.parametrize("cls", [MulcoTagger, FlatBIESTagger])
def test_fit_predict_persist_with_a_pretrained_encoder(cls, data, tiny_bert, tmp_path):
    X, y = data
    tagger = cls(encoder=str(tiny_bert), **TINY).fit(X, y)
    encoder = tagger.module_.encoder
    assert isinstance(encoder.pretrained, transformers.BertModel)
    assert not hasattr(encoder, "embed")  # characters go through BERT only
    pred = tagger.predict(X)
    assert len(pred) == len(X)
    # the pretrained weights were fine-tuned, at their own learning rate
    start = transformers.BertModel.from_pretrained(tiny_bert)
    moved = encoder.pretrained.embeddings.word_embeddings.weight
    assert not torch.equal(moved, start.embeddings.word_embeddings.weight)
    groups = tagger.net_.optimizer_.param_groups
    assert sorted(g["initial_lr"] for g in groups) == [2e-5, tagger.lr]
    # same seed, same predictions; joblib and the model file round trip
    assert cls(encoder=str(tiny_bert), **TINY).fit(X, y).predict(X) == pred
    joblib.dump(tagger, tmp_path / "t.joblib")
    tagger.save(tmp_path / "t.safetensors")
    assert joblib.load(tmp_path / "t.joblib").predict(X) == pred
    assert cls.load(tmp_path / "t.safetensors").predict(X) == pred


def test_characters_align_with_tokens(data, tiny_bert):
    """One token per character: [CLS] and [SEP] around, spaces and unknown
    characters read as [UNK], states sliced back to the characters."""
    X, y = data
    tagger = MulcoTagger(encoder=str(tiny_bert), **TINY).fit(X, y)
    vocab = transformers.AutoTokenizer.from_pretrained(tiny_bert).get_vocab()
    inputs = tagger.features_.transform([X[0] + " 㐀", X[1]])
    expected = [vocab[c] for c in X[0]] + [vocab["[UNK]"]] * 2
    assert inputs["ids"][0, : len(X[0]) + 2].tolist() == expected
    encoder = tagger.module_.encoder.eval()
    with torch.no_grad():
        batch = encoder(**inputs)
        alone = encoder(**tagger.features_.transform([X[1]]))
    # padding and the [SEP] position do not leak into a shorter sentence
    torch.testing.assert_close(batch[1, : len(X[1])], alone[0], atol=1e-5, rtol=0)
    assert batch.shape[:2] == inputs["ids"].shape


def test_unloadable_encoder_is_a_named_error(data, tmp_path):
    X, y = data
    with pytest.raises(ValueError, match="'encoder' parameter"):
        MulcoTagger(encoder=str(tmp_path / "missing"), **TINY).fit(X, y)
