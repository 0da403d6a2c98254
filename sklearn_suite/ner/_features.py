"""What the character encoder reads: character ids, optional character-bigram
ids and optional SoftLexicon word sets.

Without pretrained weights a character model sees each character on its own;
two well-known inputs lift from-scratch Chinese NER. A character bigram
(``text[i:i+2]``) tells 北京 from 北方. SoftLexicon (Ma et al., ACL 2020) gives
each character the dictionary words it Begins, is in the Middle of, Ends, or is
as a Single-character word (B/M/E/S sets), each set pooled from word
embeddings weighted by word frequency, so word boundaries reach the tagger
without segmenting the sentence.
"""

import functools
import importlib.util
import math
from pathlib import Path

import torch

PAD, UNK = 0, 1
NONE_WORD = 1  # the word of an empty B/M/E/S set
UNK_WORD = 2  # a dictionary word not met in the training sentences
WORD_SETS = 4  # B, M, E, S


@functools.lru_cache(maxsize=2)
def load_lexicon(name="jieba"):
    """The words of a Chinese dictionary and their frequencies.

    Parameters
    ----------
    name : {"jieba"}
        ``"jieba"`` reads the 349,046-word ``dict.txt`` that the jieba wheel
        ships (``pip install jieba``); jieba itself is not imported.

    Returns
    -------
    lexicon : dict of str to float
    """
    if name != "jieba":
        raise ValueError(f"unknown lexicon {name!r}; the built-in one is 'jieba'.")
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ImportError(
            "lexicon='jieba' reads the dictionary inside the jieba package: "
            "pip install jieba (or sklearn_suite[ner])."
        )
    words = {}
    path = Path(spec.origin).parent / "dict.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and parts[0]:
            words[parts[0]] = float(parts[1])
    return words


def word_sets(text, lexicon, max_word_length):
    """SoftLexicon's B/M/E/S sets: for each character, the dictionary words of
    ``text`` it begins, is inside, ends, or is (a one-character word).

    Returns
    -------
    sets : list of 4-tuple of list of str
        ``sets[i] = (B, M, E, S)`` for character ``i``.
    """
    sets = [([], [], [], []) for _ in text]
    for start in range(len(text)):
        for end in range(start + 1, min(len(text), start + max_word_length) + 1):
            word = text[start:end]
            if word not in lexicon:
                continue
            if end - start == 1:
                sets[start][3].append(word)
                continue
            sets[start][0].append(word)
            sets[end - 1][2].append(word)
            for middle in range(start + 1, end - 1):
                sets[middle][1].append(word)
    return sets


class TextFeatures:
    """Fitted on training sentences, turns sentences into padded encoder inputs.

    Parameters
    ----------
    bigrams : bool
        Add character-bigram ids (``text[i:i+2]``; the last character pairs
        with an end marker). Bigrams not seen in training are unknown.
    lexicon : None, "jieba" or dict of str to float
        Dictionary for the SoftLexicon word sets; None leaves them out.
    max_word_length : int
        Longest dictionary word matched.
    max_words : int
        Most words kept per character and set (the most frequent).
    """

    def __init__(
        self,
        bigrams=False,
        lexicon=None,
        max_word_length=8,
        max_words=5,
        pretrained=None,
    ):
        self.bigrams = bigrams
        self.lexicon = lexicon
        self.max_word_length = max_word_length
        self.max_words = max_words
        self.pretrained = pretrained

    def _lexicon(self):
        return (
            load_lexicon(self.lexicon)
            if isinstance(self.lexicon, str)
            else self.lexicon
        )

    def fit(self, texts):
        if self.pretrained is not None:
            # the pretrained model's own vocabulary, one token per character
            tokenizer = load_tokenizer(self.pretrained)
            self.special_ids = (tokenizer.cls_token_id, tokenizer.sep_token_id)
        chars = sorted({ch for text in texts for ch in text})
        self.char_vocab = {
            "<pad>": PAD,
            "<unk>": UNK,
            **{c: i + 2 for i, c in enumerate(chars)},
        }
        self.bigram_vocab = None
        if self.bigrams:
            seen = sorted({b for text in texts for b in _bigrams(text)})
            self.bigram_vocab = {b: i + 2 for i, b in enumerate(seen)}
        self.word_vocab = None
        if self.lexicon is not None:
            lexicon = self._lexicon()
            seen = sorted(
                {
                    w
                    for text in texts
                    for s in word_sets(text, lexicon, self.max_word_length)
                    for group in s
                    for w in group
                }
            )
            self.word_vocab = {w: i + 3 for i, w in enumerate(seen)}
        return self

    @property
    def n_bigrams(self):
        return 0 if self.bigram_vocab is None else len(self.bigram_vocab) + 2

    @property
    def n_words(self):
        return 0 if self.word_vocab is None else len(self.word_vocab) + 3

    def transform(self, texts):
        """Padded tensors: ``ids`` and ``lengths``; ``bigrams`` (n, L) with
        bigrams; ``words`` (n, L, 4, K) and ``word_weights`` with a lexicon."""
        lengths = torch.tensor([len(t) for t in texts])
        longest = max(1, int(lengths.max())) if len(texts) else 1
        if self.pretrained is not None:
            rows = [token_ids(t, self.pretrained) for t in texts]
        else:
            rows = [[self.char_vocab.get(c, UNK) for c in t] for t in texts]
        out = {"ids": _pad(rows, longest)}
        out["lengths"] = lengths
        if self.bigram_vocab is not None:
            rows = [[self.bigram_vocab.get(b, UNK) for b in _bigrams(t)] for t in texts]
            out["bigrams"] = _pad(rows, longest)
        if self.word_vocab is not None:
            out["words"], out["word_weights"] = self._word_tensors(texts, longest)
        return out

    def _word_tensors(self, texts, longest):
        lexicon, k = self._lexicon(), self.max_words
        words = torch.zeros(len(texts), longest, WORD_SETS, k, dtype=torch.long)
        weights = torch.zeros(len(texts), longest, WORD_SETS, k)
        for n, text in enumerate(texts):
            for i, groups in enumerate(word_sets(text, lexicon, self.max_word_length)):
                for g, group in enumerate(groups):
                    if not group:
                        words[n, i, g, 0], weights[n, i, g, 0] = NONE_WORD, 1.0
                        continue
                    top = sorted(group, key=lambda w: -lexicon[w])[:k]
                    words[n, i, g, : len(top)] = torch.tensor(
                        [self.word_vocab.get(w, UNK_WORD) for w in top]
                    )
                    weights[n, i, g, : len(top)] = torch.tensor(
                        [math.log1p(lexicon[w]) + 1.0 for w in top]
                    )
        return words, weights


@functools.lru_cache(maxsize=4)
def load_tokenizer(name_or_path):
    """A Hugging Face tokenizer (``pip install transformers``)."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ImportError(
            "a pretrained encoder needs transformers: pip install transformers "
            "(or sklearn_suite[transformers])."
        ) from exc
    return AutoTokenizer.from_pretrained(name_or_path)


def token_ids(text, name_or_path):
    """One token id per character, as Mulco feeds bert-base-chinese: each
    character is looked up in the model's vocabulary (spaces and characters it
    lacks become its unknown token), so outputs align with characters."""
    tokenizer = load_tokenizer(name_or_path)
    unk = tokenizer.unk_token_id
    ids = tokenizer.convert_tokens_to_ids(list(text))
    return [unk if i is None else i for i in ids]


def _bigrams(text):
    return [
        text[i : i + 2] if i + 1 < len(text) else text[i] + "</s>"
        for i in range(len(text))
    ]


def _pad(rows, longest):
    out = torch.zeros(len(rows), longest, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out
