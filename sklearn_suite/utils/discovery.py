"""Find the library's public estimators."""

import inspect


def all_estimators():
    """Every public estimator class of the library.

    Returns
    -------
    estimators : list of (str, type)
        ``(name, class)`` pairs sorted by name, for the scikit-learn estimators
        exported from :mod:`sklearn_suite` (abstract ``Base*`` classes excluded).
    """
    from sklearn.base import BaseEstimator

    import sklearn_suite

    found = []
    for name in sklearn_suite.__all__:
        obj = getattr(sklearn_suite, name)
        if (
            inspect.isclass(obj)
            and issubclass(obj, BaseEstimator)
            and not name.startswith("Base")
        ):
            found.append((name, obj))
    return sorted(found)
