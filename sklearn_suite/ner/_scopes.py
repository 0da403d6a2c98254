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

__all__ = ["SEQUENCES", "decode_scopes", "encode_scopes"]

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
    best, votes = {}, {}
    for name, (labels, lengths) in sequences.items():
        scope = name[0]
        conf = None if confidences is None else confidences.get(name)
        for a in np.flatnonzero(np.asarray(lengths) > 0):  # only labelled anchors
            label, length = labels[a], int(lengths[a])
            if label is None:
                continue
            c = 0.0 if conf is None else float(conf[a])
            if conf is not None and c < min_confidence:
                continue
            if scope == "B":
                s = a
            elif scope == "E":
                s = a - length + 1
            elif (a - length + 1) % 2 == 0:
                s = (a - length + 1) // 2
            else:
                continue
            e = s + length - 1
            if s < 0 or e >= text_len:
                continue
            key = (s, e + 1)
            votes[key] = votes.get(key, 0) + 1
            if key not in best or c > best[key][1]:
                best[key] = (label, c)
    return sorted(
        (s, e, label)
        for (s, e), (label, _) in best.items()
        if votes[(s, e)] >= min_votes
    )
