"""Tiny instances and data for the common tests (``tests/test_common.py``).

Every public estimator is listed here once. scikit-learn's ``check_estimator``
runs on the estimators that accept 2-D arrays (``SKLEARN_CHECK_INSTANCES``); the
library's own API checks run on every estimator (``api_cases``).
"""

import numpy as np

from sklearn_suite.utils.estimator_checks import ApiCase, BadInput


def _sgs():
    from sklearn_suite import SGSConvClassifier

    return SGSConvClassifier(widths=(4,), max_epochs=2, batch_size=16, random_state=0)


def sklearn_check_instances():
    """Estimators that take 2-D arrays, with tiny settings for scikit-learn's checks.

    ``image_shape=(1, 1, -1)`` reads each row of scikit-learn's tabular check data
    (2, 3, 5, 10 ... features) as a one-row image; the default ``None`` would
    reject every non-square feature count by design.
    """
    return [_sgs().set_params(image_shape=(1, 1, -1), max_epochs=3)]


# estimator name -> {check name: reason}; empty where every check passes
EXPECTED_FAILED_CHECKS = {
    "SGSConvClassifier": {},
}


def _digit_images():
    from sklearn_suite.datasets import load_digit_images

    X, y = load_digit_images(size=8, return_X_y=True)
    return X[:60], np.array(["zero", "one", "two"])[y[:60] % 3]


def _image_bad_inputs():
    X, _ = _digit_images()
    nan, inf = X.copy(), X.copy()
    nan[0, 0, 0, 0], inf[1, 0, 2, 2] = np.nan, np.inf
    return [
        BadInput("NaN", nan, "NaN"),
        BadInput("inf", inf, "infinity"),
        BadInput("no samples", X[:0], "0 sample"),
        BadInput("5-D array", X[:, None], "5 dimension"),
        BadInput("strings", np.full((60, 64), "a"), "could not convert|string"),
        BadInput("non-square rows", X.reshape(60, -1)[:, :63], "not a square"),
        BadInput("other image size", X[:, :, :4, :4], "fitted on images", "predict"),
    ]


def api_cases():
    """One :class:`ApiCase` per public estimator."""
    return [ApiCase(_sgs(), _digit_images, _image_bad_inputs())]
