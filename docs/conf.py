"""Sphinx configuration for sklearn_suite."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sklearn_suite import __version__  # noqa: E402

project = "sklearn_suite"
author = "sklearn_suite developers"
release = version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"members": True, "inherited-members": False}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "reference_url": {"sklearn_suite": None},
}

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_suite {version}"
exclude_patterns = ["_build", "generated/*.examples", "sg_execution_times.rst"]
# methods inherited from scikit-learn (score, set_*_request) cite labels of
# scikit-learn's own docs, which an offline build cannot resolve
suppress_warnings = ["config.cache", "ref.ref", "ref.term"]
