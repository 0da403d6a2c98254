"""The pickle-free model format refuses tampered files, and models fitted on a GPU
load on a machine without one (joblib and the model format alike)."""

import json

import joblib
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sklearn_suite import SGSConvClassifier
from sklearn_suite.base import UnsafeModelFileError, load


@pytest.fixture(scope="module")
def fitted(digits16):
    X, y = digits16
    return SGSConvClassifier(widths=(4,), max_epochs=1, random_state=0).fit(
        X[:60], y[:60]
    )


def _read(path):
    with safe_open(str(path), framework="pt") as f:
        document = json.loads(f.metadata()["sklearn_suite"])
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    return document, tensors


def _write(path, document, tensors):
    save_file(tensors, str(path), metadata={"sklearn_suite": json.dumps(document)})


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["estimator"].update(__estimator__="os:system"),
        lambda d: d["estimator"].update(__estimator__="subprocess:Popen"),
        # a library module that imports something dangerous does not export it
        lambda d: d["estimator"]["state"].update(
            classes_={
                "__ref__": "sklearn_suite.base._persistence:importlib.import_module"
            }
        ),
        lambda d: d["estimator"]["state"].update(classes_={"__ref__": "builtins:eval"}),
        # objects are created only from the library's own data classes
        lambda d: d["estimator"]["state"].update(
            classes_={"__object__": "torch.nn:Linear", "state": {"__dict__": []}}
        ),
        lambda d: d["estimator"]["state"].update(classes_={"__pickle__": "gASV"}),
        lambda d: d["estimator"]["state"].update(
            classes_={"__tensor__": "not-a-tensor"}
        ),
    ],
    ids=["os.system", "Popen", "through-import", "eval", "module", "pickle", "key"],
)
def test_tampered_model_file_is_refused(fitted, tmp_path, tamper):
    path = tmp_path / "model.safetensors"
    fitted.save(path)
    document, tensors = _read(path)
    tamper(document)
    _write(path, document, tensors)
    with pytest.raises(UnsafeModelFileError):
        load(path)


def test_joblib_file_is_not_a_model_file(fitted, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    with pytest.raises(ValueError, match="not a sklearn_suite model file"):
        SGSConvClassifier.load(path)


def test_load_checks_the_class(fitted, tmp_path):
    from sklearn_suite import MulcoTagger

    path = tmp_path / "model.safetensors"
    fitted.save(path)
    with pytest.raises(TypeError, match="holds a SGSConvClassifier"):
        MulcoTagger.load(path)


def _as_if_fitted_on_cuda(estimator):
    estimator.device = "cuda"
    estimator.net_.device = "cuda"
    return estimator


@pytest.mark.parametrize("fmt", ["joblib", "safetensors"])
def test_cuda_model_loads_on_a_cpu_only_machine(
    fitted, digits16, tmp_path, monkeypatch, fmt
):
    """Simulated: the estimator says it was fitted on CUDA, the machine has none."""
    import copy

    X, _ = digits16
    expected = fitted.predict_proba(X[60:90])
    on_cuda = _as_if_fitted_on_cuda(copy.deepcopy(fitted))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = tmp_path / f"model.{fmt}"
    if fmt == "joblib":
        joblib.dump(on_cuda, path)
        with pytest.warns(UserWarning, match="CUDA is not available"):
            loaded = joblib.load(path)
    else:
        on_cuda.save(path)
        with pytest.warns(UserWarning, match="CUDA is not available"):
            loaded = SGSConvClassifier.load(path)
    assert loaded.device == "cpu"
    assert str(loaded.net_.device) == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X[60:90]), expected, atol=1e-6)


def test_file_from_before_a_parameter_existed_gets_its_default(fitted, tmp_path):
    path = tmp_path / "model.safetensors"
    fitted.save(path)
    document, tensors = _read(path)
    del document["estimator"]["state"]["momentum"]  # as if saved before it existed
    _write(path, document, tensors)
    loaded = load(path)
    assert loaded.momentum == SGSConvClassifier().momentum


def test_pickle_from_before_a_parameter_existed_gets_its_default(fitted):
    state = fitted.__getstate__()
    del state["momentum"]  # as if pickled before it existed
    loaded = SGSConvClassifier.__new__(SGSConvClassifier)
    loaded.__setstate__(state)
    assert loaded.momentum == SGSConvClassifier().momentum
    assert loaded.get_params()["momentum"] == SGSConvClassifier().momentum
