"""Text-rendering metrics."""

import numpy as np


def ocr_accuracy(y_true, y_pred):
    """Exact-match accuracy of recognised texts.

    Parameters
    ----------
    y_true : sequence of str
        The texts that should have been drawn.
    y_pred : sequence of str
        What a recogniser read.

    Returns
    -------
    accuracy : float
        Share of rows where the whole text matches.

    Examples
    --------
    >>> from sklearn_suite.metrics import ocr_accuracy
    >>> ocr_accuracy(["山水", "火"], ["山水", "木"])
    0.5
    """
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true has {len(y_true)} texts but y_pred has {len(y_pred)}."
        )
    if not y_true:
        raise ValueError("ocr_accuracy needs at least one text.")
    return float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)]))
