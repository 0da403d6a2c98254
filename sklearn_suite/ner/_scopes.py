"""Mulco's scope labelling: begin, end and centre anchors with min/max labels.

Every entity ``(s, e)`` (end inclusive here) is written down at three anchors: its
begin ``s`` and end ``e`` (over the L characters) and its centre ``s + e`` (over
the 2L - 1 characters and gaps: an even anchor is character ``a / 2``, the centre
of an odd-length entity; an odd anchor is the gap after character ``(a - 1) / 2``,
the centre of an even-length entity). Each anchor carries two labels, the
(category, length) of the shortest ("min") and of the longest ("max") entity
anchored there, which gives six label sequences.
"""

import numpy as np

__all__ = ["SEQUENCES", "decode_scopes", "decode_scopes_batch", "encode_scopes"]

SEQUENCES = ("Bmin", "Bmax", "Emin", "Emax", "Cmin", "Cmax")


def _anchor(scope, s, e):
    return {"B": s, "E": e, "C": s + e}[scope]


def _scope_size(scope, text_len):
    return 2 * text_len - 1 if scope == "C" else text_len


def encode_scopes(text_len, entities, *, max_entity_length=40, scopes="BEC"):
    """The six label sequences of one sentence.

    Parameters
    ----------
    text_len : int
        Number of characters L.
    entities : iterable of (start, end, label)
        Python slice offsets (``end`` exclusive), as everywhere in the library.
    max_entity_length : int, default=40
        Longer entities get this length label (their decoding is then wrong, as
        in the paper).
    scopes : str, default="BEC"
        Which of the B, E and C scopes to encode.

    Returns
    -------
    sequences : dict of str to (labels, lengths)
        For each of ``Bmin``, ``Bmax``, ``Emin``, ``Emax``, ``Cmin``, ``Cmax``
        whose scope is selected: ``labels`` (object array, None for O) and
        ``lengths`` (int array, 0 for O), of length L (B, E) or 2L - 1 (C).
    """
    if text_len < 1:
        return {}
    out = {}
    for scope in scopes:
        size = _scope_size(scope, text_len)
        anchored = [[] for _ in range(size)]
        for start, end, label in entities:
            s, e = start, end - 1
            anchored[_anchor(scope, s, e)].append((e - s + 1, str(label)))
        for kind in ("min", "max"):
            labels = np.full(size, None, dtype=object)
            lengths = np.zeros(size, dtype=np.int64)
            for a, spans in enumerate(anchored):
                if spans:
                    length, label = min(spans) if kind == "min" else max(spans)
                    labels[a] = label
                    lengths[a] = min(length, max_entity_length)
            out[scope + kind] = (labels, lengths)
    return out


def decode_scopes(
    text_len, sequences, confidences=None, *, min_confidence=0.0, min_votes=1
):
    """Spans from label sequences: the union over all sequences given.

    A (label, length) at anchor ``a`` gives ``[a, a + l - 1]`` for B,
    ``[a - l + 1, a]`` for E and, for C, the span of length ``l`` centred at ``a``
    (``s = (a - l + 1) / 2``; anchors whose parity does not fit ``l`` give
    nothing). Spans outside the text are dropped. When two sequences give the
    same span different labels, the more confident one is kept.

    Parameters
    ----------
    text_len : int
    sequences : dict of str to (labels, lengths)
        As returned by :func:`encode_scopes` (any subset of the six).
    confidences : dict of str to array, default=None
        Confidence of each label, per sequence; ties and None keep the first.
    min_confidence : float, default=0.0
        Anchor labels less confident than this give no span (0: Mulco's union).
    min_votes : int, default=1
        A span must be given by at least this many sequences (1: the union).

    Returns
    -------
    entities : list of (start, end, label)
        Slice offsets, sorted.
    """
    return decode_scopes_batch(
        [text_len],
        {
            name: (np.asarray(lab)[None], np.asarray(n)[None])
            for name, (lab, n) in sequences.items()
        },
        None
        if confidences is None
        else {name: np.asarray(c)[None] for name, c in confidences.items()},
        min_confidence=min_confidence,
        min_votes=min_votes,
    )[0]


def decode_scopes_batch(
    text_lens, sequences, confidences=None, *, min_confidence=0.0, min_votes=1
):
    """:func:`decode_scopes` of a batch of sentences at once (vectorised).

    Parameters
    ----------
    text_lens : sequence of int
        Number of characters of each sentence.
    sequences : dict of str to (labels, lengths)
        Arrays of shape (batch, n): each sentence's sequence, padded at the end
        to any ``n`` (anchors past a sentence's end decode outside it and are
        dropped).
    confidences : dict of str to array, default=None
        Same shapes as the labels.
    min_confidence, min_votes :
        As in :func:`decode_scopes`.

    Returns
    -------
    entities : list of list of (start, end, label)
        For each sentence, slice offsets, sorted.
    """
    text_lens = np.asarray(text_lens)
    found = []  # per sequence: sentence, start, end (inclusive), label, confidence
    for name, (labels, lengths) in sequences.items():
        lengths = np.asarray(lengths)
        b, a = np.nonzero(lengths > 0)  # only labelled anchors
        length, label = lengths[b, a], np.asarray(labels, dtype=object)[b, a]
        given = None if confidences is None else confidences.get(name)
        conf = np.zeros(len(b)) if given is None else np.asarray(given, float)[b, a]
        keep = label != None  # noqa: E711 (elementwise on object arrays)
        if name[0] == "B":
            s = a
        elif name[0] == "E":
            s = a - length + 1
        else:
            keep &= (a - length + 1) % 2 == 0
            s = (a - length + 1) // 2
        e = s + length - 1
        keep &= (s >= 0) & (e < text_lens[b])
        if given is not None:
            keep &= ~(conf < min_confidence)  # NaN stays, as in the loop
        found.append((b[keep], s[keep], e[keep], label[keep], conf[keep]))
    out = [[] for _ in text_lens]
    if not found:
        return out
    b, s, e, label, conf = (np.concatenate(col) for col in zip(*found))
    # per span, the most confident label first (ties: the earlier sequence)
    order = np.lexsort((np.arange(len(b)), -conf, e, s, b))
    b, s, e, label = b[order], s[order], e[order], label[order]
    first = np.ones(len(b), dtype=bool)
    first[1:] = (b[1:] != b[:-1]) | (s[1:] != s[:-1]) | (e[1:] != e[:-1])
    starts = np.flatnonzero(first)
    votes = np.diff(np.append(starts, len(b)))
    for i in starts[votes >= min_votes]:
        out[b[i]].append((int(s[i]), int(e[i]) + 1, label[i]))
    return out
