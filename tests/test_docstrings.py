"""Every public estimator documents exactly the parameters its __init__ takes."""

import inspect

import pytest
from numpydoc.docscrape import ClassDoc

from sklearn_suite.utils.discovery import all_estimators


@pytest.mark.parametrize("name, cls", all_estimators())
def test_docstring_parameters_match_signature(name, cls):
    doc = ClassDoc(cls)
    documented = [p.name for p in doc["Parameters"]]
    signature = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert documented == signature
    for section in ("Attributes", "Examples", "References"):
        assert doc[section], f"{name} has no {section} section"
