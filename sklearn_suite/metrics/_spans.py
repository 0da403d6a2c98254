"""Span-level metrics for (nested) named-entity recognition."""


def _as_sets(y_true, y_pred):
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred have different lengths: {len(y_true)} and "
            f"{len(y_pred)} sentences."
        )
    return (
        [{(int(s), int(e), str(c)) for s, e, c in t} for t in y_true],
        [{(int(s), int(e), str(c)) for s, e, c in p} for p in y_pred],
    )


def span_precision_recall_f1(y_true, y_pred):
    """Micro precision, recall and F1 over all entities, nested ones included; a
    predicted entity counts only with its exact span and label.

    Parameters
    ----------
    y_true, y_pred : list of list of (start, end, label)

    Returns
    -------
    precision, recall, f1 : float
        0.0 where undefined.
    """
    true, pred = _as_sets(y_true, y_pred)
    tp = sum(len(t & p) for t, p in zip(true, pred))
    n_pred = sum(map(len, pred))
    n_true = sum(map(len, true))
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return precision, recall, f1


def span_f1_score(y_true, y_pred):
    """Micro F1 with exact span and label over all entities (see
    :func:`span_precision_recall_f1`)."""
    return span_precision_recall_f1(y_true, y_pred)[2]


def inner_entity_recall(y_true, y_pred):
    """Recall on nested entities: those strictly inside another gold entity."""
    true, pred = _as_sets(y_true, y_pred)
    hit = total = 0
    for t, p in zip(true, pred):
        for s, e, c in t:
            if any(s2 <= s and e <= e2 and (s2, e2) != (s, e) for s2, e2, _ in t):
                total += 1
                hit += (s, e, c) in p
    return hit / total if total else 0.0
