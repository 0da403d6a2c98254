"""Persistence: version-stamped pickles, and a pickle-free model format.

``joblib.dump`` works on every estimator (a pickle: load only files you trust).
``save(path)`` / ``load(path)`` write one safetensors file instead: the tensors
(weights, arrays) as tensors and everything else (parameters, vocabularies,
indices, histories) as JSON in the file's metadata. Loading runs no code from the
file: it rebuilds each network from the estimator's own code
(``_rebuild_modules``) and loads the weights into it, and it creates only objects
of the library's own data classes. A file that names anything else is refused.
"""

import importlib
import inspect
import json
import math
import warnings
from pathlib import Path

import numpy as np
import torch

from sklearn_suite._version import __version__

__all__ = [
    "PendingModule",
    "TorchEstimatorMixin",
    "UnsafeModelFileError",
    "load",
    "save",
]

FORMAT = "sklearn_suite.model/1"

# classes and functions a model file may name (as values, never called on load)
_REFERENCE_PREFIXES = ("sklearn_suite.", "torch.nn.", "torch.optim.")


class UnsafeModelFileError(ValueError):
    """A model file names something the loader does not create or refer to."""


class TorchEstimatorMixin:
    """Version-stamped pickles that load on machines without the GPU the model
    was fitted on, and the pickle-free :meth:`save` / :meth:`load`."""

    def __getstate__(self):
        state = super().__getstate__()
        # modules kept outside skorch nets go into the pickle from the CPU
        for key, value in state.items():
            if isinstance(value, torch.nn.Module) and _off_cpu(value):
                import copy

                state[key] = copy.deepcopy(value).cpu()
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
        # parameters added since it was pickled take their defaults, as in load
        _init_defaults(self, type(self), only_missing=True)
        _fall_back_to_cpu(self)

    def save(self, path):
        """Write the fitted estimator to ``path`` without pickle.

        One safetensors file: tensors and arrays as tensors, everything else as
        JSON. User callbacks are not saved (``callbacks`` comes back as None).

        Parameters
        ----------
        path : str or Path
        """
        save(self, path)

    @classmethod
    def load(cls, path):
        """Read an estimator written by :meth:`save`.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        estimator : an instance of this class
        """
        estimator = load(path)
        if not isinstance(estimator, cls):
            raise TypeError(
                f"{path} holds a {type(estimator).__name__}, not a {cls.__name__}."
            )
        return estimator


def _off_cpu(module):
    return any(t.device.type != "cpu" for t in module.parameters()) or any(
        t.device.type != "cpu" for t in module.buffers()
    )


def _fall_back_to_cpu(estimator):
    """A model fitted on a GPU, loaded where there is none: use the CPU."""
    device = getattr(estimator, "device", None)
    if isinstance(device, (str, torch.device)) and str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            warnings.warn(
                f"{type(estimator).__name__} was fitted with device={device!r}, "
                "but CUDA is not available here; it will run on the CPU.",
                UserWarning,
                stacklevel=3,
            )
            estimator.device = "cpu"
            if hasattr(estimator, "device_"):
                estimator.device_ = "cpu"


# ----------------------------------------------------------------- encoding
def _reference(obj):
    name = f"{obj.__module__}:{obj.__qualname__}"
    if not obj.__module__.startswith(_REFERENCE_PREFIXES) or "<" in name:
        raise TypeError(
            f"cannot save a reference to {name}: only the library's own and "
            "torch.nn / torch.optim classes can be named in a model file (save "
            "with joblib instead)."
        )
    return name


class _Encoder:
    """Walks an estimator's state: tensors and numeric arrays go to ``tensors``,
    everything else becomes JSON; networks become references to the paths they
    are found at, their weights stored under that path."""

    def __init__(self):
        self.tensors = {}
        self._keys = {}

    def put(self, tensor):
        # a tensor reached twice (a module shared by two stages, tied weights) is
        # stored once; safetensors refuses tensors that share memory, so copy
        view = (
            tensor.untyped_storage().data_ptr(), tensor.storage_offset(),
            tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype,
        )  # fmt: skip
        if view not in self._keys:
            key = self._keys[view] = f"t{len(self.tensors)}"
            self.tensors[key] = tensor.detach().cpu().clone().contiguous()
        return self._keys[view]

    def estimator(self, est):
        state = {}
        for key, value in vars(est).items():
            if key == "callbacks" and value:
                warnings.warn(
                    "the callbacks are not saved; the loaded estimator has "
                    "callbacks=None.",
                    UserWarning,
                    stacklevel=4,
                )
                value = None
            state[key] = self.value(value, (key,))
        return {"__estimator__": _reference(type(est)), "state": state}

    def module(self, module, path):
        weights = {
            name: self.put(t) for name, t in module.state_dict(keep_vars=False).items()
        }
        return {"__module__": list(path), "weights": weights}

    def value(self, obj, path):  # noqa: C901 - one branch per kind of value
        from skorch import NeuralNet
        from skorch.history import History

        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and not isinstance(obj, np.integer):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, np.generic):
            return {"__scalar__": str(obj.dtype), "value": self.value(obj.item(), path)}
        if isinstance(obj, np.dtype):
            return {"__dtype__": obj.str}
        if isinstance(obj, torch.device):
            return {"__device__": str(obj)}
        if isinstance(obj, torch.dtype):
            return {"__torch_dtype__": str(obj).removeprefix("torch.")}
        if hasattr(obj, "_rebuild_modules"):  # a nested estimator
            return self.estimator(obj)
        if isinstance(obj, NeuralNet):
            node = self.module(obj.module_, path + ("module_",))
            node["__net__"] = list(path)
            node["history"] = self.value(obj.history, path + ("history",))
            return node
        if isinstance(obj, torch.nn.Module):
            return self.module(obj, path)
        if isinstance(obj, torch.Tensor):
            return {"__tensor__": self.put(obj)}
        if isinstance(obj, np.ndarray):
            return self.array(obj, path)
        if isinstance(obj, History):
            return {"__history__": [self.value(e, path) for e in obj]}
        if isinstance(obj, (list, tuple, set, frozenset)):
            kind = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}
            tag = next(kind[t] for t in kind if isinstance(obj, t))
            return {
                f"__{tag}__": [self.value(v, path + (i,)) for i, v in enumerate(obj)]
            }
        if isinstance(obj, dict):
            return {
                "__dict__": [
                    [self.value(k, path), self.value(v, path + (k,))]
                    for k, v in obj.items()
                ]
            }
        import pandas as pd

        if isinstance(obj, pd.RangeIndex):
            return {"__range__": [obj.start, obj.stop, obj.step], "name": obj.name}
        if isinstance(obj, pd.Index):
            return {
                "__index__": self.value(np.asarray(obj), path),
                "name": self.value(obj.name, path),
            }
        if isinstance(obj, pd.Series):
            return {
                "__series__": self.value(obj.to_numpy(), path),
                "index": self.value(obj.index, path),
                "name": self.value(obj.name, path),
            }
        if isinstance(obj, pd.DataFrame):
            return {
                "__frame__": [
                    [self.value(c, path), self.value(obj[c].to_numpy(), path)]
                    for c in obj.columns
                ],
                "index": self.value(obj.index, path),
            }
        if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__"):
            return {"__ref__": _reference(obj)}
        if type(obj).__module__.startswith("sklearn_suite."):  # a data class
            return {
                "__object__": _reference(type(obj)),
                "state": self.value(dict(vars(obj)), path),
            }
        raise TypeError(
            f"cannot save {type(obj).__module__}.{type(obj).__qualname__} (found "
            f"at {'.'.join(map(str, path))}); save with joblib instead."
        )

    def array(self, array, path):
        if array.dtype.kind in "biuf" and array.dtype.itemsize <= 8:
            storage = array
            if array.dtype.kind == "u" and array.dtype != np.uint8:
                storage = array.astype(np.int64)  # torch has no wide unsigned ints
            tensor = torch.from_numpy(np.ascontiguousarray(storage))
            return {"__ndarray__": self.put(tensor), "dtype": array.dtype.str}
        return {
            "__objects__": [self.value(v, path) for v in array.ravel().tolist()],
            "dtype": array.dtype.str if array.dtype.kind in "US" else "object",
            "shape": list(array.shape),
        }


def save(estimator, path):
    """Write a fitted estimator to one safetensors file, without pickle (see
    :meth:`TorchEstimatorMixin.save`)."""
    from safetensors.torch import save_file

    encoder = _Encoder()
    document = {
        "format": FORMAT,
        "version": __version__,
        "estimator": encoder.estimator(estimator),
    }
    metadata = {"sklearn_suite": json.dumps(document)}
    save_file(encoder.tensors, str(Path(path)), metadata=metadata)


# ----------------------------------------------------------------- decoding
def _resolve(name, *, kind):
    """The class or function a model file names, if the loader may refer to it."""
    module, _, qualname = name.partition(":")
    allowed = module.startswith(_REFERENCE_PREFIXES) and "<" not in qualname
    if kind != "reference":  # objects are created only from the library's classes
        allowed = allowed and module.startswith("sklearn_suite.")
    if not allowed or not qualname:
        raise UnsafeModelFileError(
            f"the model file names {name!r}, which the loader does not "
            f"{'create' if kind != 'reference' else 'refer to'}; refusing to load it."
        )
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    # the name must be where the object is defined: "sklearn_suite.x:os.system"
    # walks through an imported module to something the loader must not hand out
    if (
        obj is None
        or getattr(obj, "__module__", None) != module
        or getattr(obj, "__qualname__", None) != qualname
    ):
        raise UnsafeModelFileError(
            f"the model file names {name!r}, which is not defined there; "
            "refusing to load it."
        )
    if kind == "estimator" and not hasattr(obj, "_rebuild_modules"):
        raise UnsafeModelFileError(f"{name!r} is not an estimator of the library.")
    if kind == "object" and isinstance(obj, type) and issubclass(obj, torch.nn.Module):
        raise UnsafeModelFileError(f"{name!r} is a network, not a data class.")
    return obj


def _init_defaults(obj, cls, only_missing=False):
    """Set the defaults of ``cls.__init__``'s parameters on ``obj`` (the
    attribute of the same name, as scikit-learn estimators and the library's data
    classes store them)."""
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.default is inspect.Parameter.empty:
            continue
        if not (only_missing and hasattr(obj, name)):
            setattr(obj, name, param.default)


class PendingModule:
    """Where a network will be: the estimator's ``_rebuild_modules`` replaces
    it (and ``_rebuild_modules`` may test ``is not None`` to know there was one)."""


class _Decoder:
    def __init__(self, tensors):
        self.tensors = tensors

    def get(self, key):
        if not isinstance(key, str) or key not in self.tensors:
            raise UnsafeModelFileError(
                f"the model file refers to a missing tensor {key!r}."
            )
        return self.tensors[key]

    def estimator(self, node):
        cls = _resolve(node["__estimator__"], kind="estimator")
        est = cls.__new__(cls)
        modules = []
        for key, value in node["state"].items():
            setattr(est, key, self.value(value, modules))
        # a file written before a parameter existed: that parameter's default
        _init_defaults(est, cls, only_missing=True)
        _fall_back_to_cpu(est)
        if modules:  # fitted (an unfitted estimator, a parameter, has none)
            est._rebuild_modules()
        for module_node in modules:
            self.load_weights(est, module_node)
        return est

    def load_weights(self, est, node):
        target = est
        for part in node["__net__"] if "__net__" in node else node["__module__"]:
            if isinstance(target, (list, tuple, dict, torch.nn.ModuleList)):
                target = target[part]
            else:
                target = getattr(target, part)
            if isinstance(target, PendingModule):
                raise ValueError(
                    f"{type(est).__name__}._rebuild_modules did not rebuild "
                    f"{node.get('__net__') or node['__module__']}."
                )
        module = target.module_ if "__net__" in node else target
        state = {name: self.get(key) for name, key in node["weights"].items()}
        module.load_state_dict(state)
        module.eval()
        if "__net__" in node:
            target.history = self.value(node["history"], [])

    def value(self, node, modules):  # noqa: C901 - one branch per kind of value
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list) or not isinstance(node, dict):
            raise UnsafeModelFileError(
                f"unexpected value in the model file: {node!r:.80}"
            )
        tag = next(iter(node))
        if tag == "__float__":
            return float(node[tag])
        if tag == "__scalar__":
            return np.dtype(node[tag]).type(self.value(node["value"], modules))
        if tag == "__dtype__":
            return np.dtype(node[tag])
        if tag == "__device__":
            return torch.device(node[tag])
        if tag == "__torch_dtype__":
            dtype = getattr(torch, node[tag], None)
            if not isinstance(dtype, torch.dtype):
                raise UnsafeModelFileError(f"unknown torch dtype {node[tag]!r}.")
            return dtype
        if tag == "__estimator__":
            return self.estimator(node)
        if tag in ("__module__", "__net__"):
            modules.append(node)
            return PendingModule()  # rebuilt by the estimator, weights loaded after
        if tag == "__tensor__":
            return self.get(node[tag]).clone()
        if tag == "__ndarray__":
            return self.get(node[tag]).numpy().astype(np.dtype(node["dtype"]))
        if tag == "__objects__":
            values = [self.value(v, modules) for v in node[tag]]
            dtype = object if node["dtype"] == "object" else np.dtype(node["dtype"])
            out = np.empty(len(values), dtype=dtype)
            out[:] = values
            return out.reshape(node["shape"])
        if tag == "__history__":
            from skorch.history import History

            return History(self.value(e, modules) for e in node[tag])
        if tag in ("__list__", "__tuple__", "__set__", "__frozenset__"):
            kind = {"__list__": list, "__tuple__": tuple, "__set__": set,
                    "__frozenset__": frozenset}[tag]  # fmt: skip
            return kind(self.value(v, modules) for v in node[tag])
        if tag == "__dict__":
            return {
                self.value(k, modules): self.value(v, modules) for k, v in node[tag]
            }
        if tag in ("__range__", "__index__", "__series__", "__frame__"):
            return self.pandas(tag, node, modules)
        if tag == "__ref__":
            return _resolve(node[tag], kind="reference")
        if tag == "__object__":
            cls = _resolve(node[tag], kind="object")
            obj = cls.__new__(cls)
            # attributes a newer class sets in __init__ start at their defaults
            _init_defaults(obj, cls)
            obj.__dict__.update(self.value(node["state"], modules))
            return obj
        raise UnsafeModelFileError(f"unknown entry {tag!r} in the model file.")

    def pandas(self, tag, node, modules):
        import pandas as pd

        if tag == "__range__":
            return pd.RangeIndex(*node[tag], name=node["name"])
        if tag == "__index__":
            return pd.Index(
                self.value(node[tag], modules), name=self.value(node["name"], modules)
            )
        if tag == "__series__":
            return pd.Series(
                self.value(node[tag], modules),
                index=self.value(node["index"], modules),
                name=self.value(node["name"], modules),
            )
        return pd.DataFrame(
            {self.value(c, modules): self.value(v, modules) for c, v in node[tag]},
            index=self.value(node["index"], modules),
        )


def load(path):
    """Read an estimator written by :func:`save`: rebuild its networks from the
    library's code and load their weights; nothing in the file is executed.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    estimator

    Raises
    ------
    UnsafeModelFileError
        When the file names a class or function the loader does not create.
    ValueError
        When the file is not a model file of this library.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(Path(path)), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as exc:  # safetensors raises its own error types
        raise ValueError(f"{path} is not a sklearn_suite model file: {exc}") from exc
    try:
        document = json.loads(metadata["sklearn_suite"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a sklearn_suite model file.") from exc
    if document.get("format") != FORMAT:
        raise ValueError(f"{path} is a model file of another format.")
    if document.get("version") != __version__:
        warnings.warn(
            f"{path} was written by sklearn_suite {document.get('version')}; this "
            f"is {__version__}: results may differ.",
            UserWarning,
            stacklevel=2,
        )
    return _Decoder(tensors).estimator(document["estimator"])
