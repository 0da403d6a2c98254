"""Version-stamped persistence."""

import warnings

from sklearn_suite._version import __version__

__all__ = ["TorchEstimatorMixin"]


class TorchEstimatorMixin:
    """Stamp the library version into pickles and warn when it differs on load."""

    def __getstate__(self):
        state = super().__getstate__()
        state["_sklearn_suite_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_sklearn_suite_version", None)
        if version != __version__:
            warnings.warn(
                f"Loading a {type(self).__name__} pickled with sklearn_suite "
                f"{version} into version {__version__}; results may differ.",
                UserWarning,
                stacklevel=2,
            )
        super().__setstate__(state)
