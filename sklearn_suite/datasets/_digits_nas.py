"""The micro NAS benchmark that ships with the library, and NAS-Bench-201 labels read
from the optional ``analog-nasbench`` package."""

import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from sklearn_suite.datasets._nas_families import FAMILIES, build_network

DIGITS_NAS_CSV = Path(__file__).parent / "data" / "digits_nas.csv"
# analog-nasbench op codes, pinned by tests (see read_nb201_analog)
ANALOG_NB201_OPS = {
    0: "skip_connect",
    1: "none",
    2: "nor_conv_3x3",
    3: "nor_conv_1x1",
    4: "avg_pool_3x3",
}


def load_digits_nas(families=None, return_X_y=False):
    """Load the micro NAS benchmark: small CNNs trained on digits, with baselines.

    Networks of four families (``"cell201"`` NAS-Bench-201-style cells,
    ``"mbconv"`` MobileNetV3-style blocks, ``"resnet"`` basic/bottleneck ResNets,
    ``"inception"`` multi-path blocks; 1,000 networks) were trained on
    scikit-learn's 8x8 digits (fixed stratified 50/50 split; 6 epochs, Adam 3e-3,
    batch 64, Gaussian noise 0.1 and random one-pixel shifts on training batches;
    accuracy on the clean test half, mean of three seeds) by
    ``benchmarks/make_digits_nas.py``. The table stores every network's spec, its
    mean test accuracy in percent (``accuracy``) and each seed's
    (``accuracy_seed0`` to ``accuracy_seed2``; their disagreement is the labels'
    noise), and FLOPs, parameters, synflow and jacov computed on the same
    network.

    Parameters
    ----------
    families : list of str, default=None
        Families to keep; None keeps all four.
    return_X_y : bool, default=False
        Return ``(networks, accuracy)`` with freshly built ``nn.Module`` networks.

    Returns
    -------
    data : Bunch
        ``frame`` (one row per network), ``specs`` (list of dict), ``target``
        (accuracy in percent), ``family``, ``input_shape`` = (1, 8, 8) and
        ``build`` (the builder: ``data.build(spec)`` returns the module).
    (networks, y) : tuple
        When ``return_X_y`` is True.

    Examples
    --------
    >>> from sklearn_suite.datasets import load_digits_nas
    >>> data = load_digits_nas(families=["resnet"])
    >>> net = data.build(data.specs[0])
    >>> sorted(set(data.family))
    ['resnet']
    """
    frame = pd.read_csv(DIGITS_NAS_CSV)
    if families is not None:
        unknown = sorted(set(families) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown families {unknown}; expected some of {FAMILIES}")
        frame = frame[frame["family"].isin(families)].reset_index(drop=True)
    specs = [json.loads(s) for s in frame["spec"]]
    target = frame["accuracy"].to_numpy()
    if return_X_y:
        return [build_network(spec) for spec in specs], target
    return Bunch(
        frame=frame,
        specs=specs,
        target=target,
        family=frame["family"].to_numpy(),
        input_shape=(1, 8, 8),
        build=build_network,
    )


class _Record:
    """Stand-in for analog-nasbench's pickled classes (its module imports the
    removed ``pkg_resources``, so the pickle is read without importing it)."""

    def __setstate__(self, state):
        self.__dict__.update(state)


class _AnalogUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.startswith("analognasbench"):
            return _Record
        return super().find_class(module, name)


def read_nb201_analog(n=None, random_state=None):
    """NAS-Bench-201-space CIFAR-10 accuracies from the ``analog-nasbench`` wheel.

    The package stores all 15,625 cells keyed by a 6-tuple of op codes in
    NAS-Bench-201's edge order (0->1, 0->2, 0->3, 1->2, 1->3, 2->3); its codes map
    to ops as :data:`ANALOG_NB201_OPS`. Accuracies are its ``baseline_accuracy``
    (percent), which are NB-201-space labels, not guaranteed to equal the official
    NB-201 table. The data are read from the installed package, never copied.

    Parameters
    ----------
    n : int, default=None
        Return a random sample of ``n`` cells; None returns all.
    random_state : int, RandomState or None
        Seeds the sample.

    Returns
    -------
    data : Bunch
        ``frame`` (``code``, ``accuracy``), ``specs`` (dicts for
        :func:`build_network` with the NAS-Bench-201 macro skeleton: stem 16,
        5 cells per stage, 3x32x32 input), ``target`` and ``input_shape``.

    Raises
    ------
    ImportError
        When ``analog-nasbench`` is not installed (``pip install analog-nasbench``).
    """
    from sklearn.utils import check_random_state

    spec = importlib.util.find_spec("analognasbench")
    if spec is None:
        raise ImportError(
            "read_nb201_analog needs the optional package analog-nasbench: "
            "pip install analog-nasbench"
        )
    path = Path(spec.submodule_search_locations[0]) / "data.anb"
    with path.open("rb") as fh:
        table = _AnalogUnpickler(fh).load()
    codes = sorted(table)
    if n is not None:
        rng = check_random_state(random_state)
        codes = [codes[i] for i in sorted(rng.choice(len(codes), n, replace=False))]
    accuracy = np.array([float(table[c].baseline_accuracy) for c in codes])
    specs = [
        {
            "family": "nb201",
            "ops": [ANALOG_NB201_OPS[int(o)] for o in c],
            "stem": 16,
            "cells_per_stage": 5,
            "in_channels": 3,
        }
        for c in codes
    ]
    frame = pd.DataFrame(
        {"code": [tuple(int(o) for o in c) for c in codes], "accuracy": accuracy}
    )
    return Bunch(
        frame=frame,
        specs=specs,
        target=accuracy,
        input_shape=(3, 32, 32),
        build=build_network,
    )
