"""Shared API checks over every public estimator."""

import pytest
from imblearn.utils.estimator_checks import (
    parametrize_with_checks as parametrize_with_sampler_checks,
)
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_suite
from sklearn_suite.utils._test_common import (
    EXPECTED_FAILED_CHECKS,
    api_cases,
    sampler_check_instances,
    sklearn_check_instances,
)
from sklearn_suite.utils.discovery import all_estimators
from sklearn_suite.utils.estimator_checks import API_CHECKS, check_bad_input

CASES = api_cases()


def _expected_failed(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks(
    sklearn_check_instances(), expected_failed_checks=_expected_failed
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@parametrize_with_sampler_checks(
    sampler_check_instances(), expected_failed_checks=_expected_failed
)
def test_imblearn_compatible_sampler(estimator, check):
    check(estimator)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
def test_api(case, check):
    check(case)


@pytest.mark.parametrize(
    "case, bad",
    [(case, bad) for case in CASES for bad in case.bad_inputs],
    ids=lambda x: getattr(x, "name", None) or getattr(x, "description", None),
)
def test_bad_input_raises_a_named_error(case, bad):
    check_bad_input(case, bad)


def test_every_public_estimator_joins_the_common_checks():
    public = {name for name, _ in all_estimators()}
    assert public, "discovery found no estimator"
    assert public == {case.name for case in CASES}
    assert public == set(EXPECTED_FAILED_CHECKS)


def test_import_is_lazy():
    # heavy libraries load on first use of an estimator, keeping the import fast
    import subprocess
    import sys

    code = "import sys, sklearn_suite; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
    assert "SGSConvClassifier" in dir(sklearn_suite)
