"""Datasets the library makes itself or reads from installed packages."""

from sklearn_suite.datasets._cross_domain import (
    make_cross_domain_interactions,
    make_cross_domain_sequences,
)
from sklearn_suite.datasets._digits_multitask import (
    KEYPOINT_NAMES,
    ink_keypoints,
    load_digits_multitask,
    make_ink_tasks,
)
from sklearn_suite.datasets._digits_nas import (
    ANALOG_NB201_OPS,
    load_digits_nas,
    read_nb201_analog,
)
from sklearn_suite.datasets._glyph_scenes import (
    GLYPH_ALPHABET,
    find_cjk_font,
    make_glyph_scenes,
)
from sklearn_suite.datasets._images import load_digit_images, read_mnist_5k
from sklearn_suite.datasets._kinship import (
    KINSHIP_RELATIONS,
    kinship_rules,
    make_kinship_stories,
)
from sklearn_suite.datasets._movielens import (
    load_movielens_domains,
    movielens_100k_path,
)
from sklearn_suite.datasets._nas_families import build_network
from sklearn_suite.datasets._ner import make_nested_ner, read_chinese_nested_ner
from sklearn_suite.datasets._relational import read_clutrr, read_graphlog
from sklearn_suite.datasets._shapes import make_orientation_shapes

__all__ = [
    "GLYPH_ALPHABET",
    "find_cjk_font",
    "make_glyph_scenes",
    "ANALOG_NB201_OPS",
    "KEYPOINT_NAMES",
    "KINSHIP_RELATIONS",
    "build_network",
    "ink_keypoints",
    "kinship_rules",
    "load_digits_multitask",
    "make_cross_domain_interactions",
    "make_cross_domain_sequences",
    "make_ink_tasks",
    "make_kinship_stories",
    "load_digits_nas",
    "load_movielens_domains",
    "movielens_100k_path",
    "read_nb201_analog",
    "load_digit_images",
    "make_nested_ner",
    "make_orientation_shapes",
    "read_chinese_nested_ner",
    "read_clutrr",
    "read_graphlog",
    "read_mnist_5k",
]
