"""The independent OCR judge (PP-OCRv4 from the rapidocr-onnxruntime wheel)."""

import numpy as np
import pytest

from sklearn_suite.datasets import GLYPH_ALPHABET, make_glyph_scenes
from sklearn_suite.generate import PPOCRReader


@pytest.fixture(scope="module")
def reader():
    return PPOCRReader()


def _read(reader, scenes):
    images = np.stack(scenes["image"].to_numpy())
    return reader.read(images, list(scenes["box"]), scenes["text"].str.len())


def test_reads_real_scenes_side_by_side_and_stacked(reader):
    scenes = make_glyph_scenes(120, random_state=3)
    scenes = scenes[scenes["text"] != ""]
    tall = scenes["box"].map(lambda b: (b[3] - b[1]) > (b[2] - b[0])).to_numpy()
    assert tall.any() and (~tall).any()
    read = np.array(_read(reader, scenes))
    truth = scenes["text"].to_numpy()
    assert np.mean(read == truth) >= 0.7
    # stacked text is read cell by cell, so it comes back in reading order
    assert np.mean(read[tall] == truth[tall]) >= 0.6


def test_empty_boxes_and_blank_boxes_read_nothing(reader):
    image = np.full((2, 32, 32, 3), 200, dtype=np.uint8)
    assert reader.read(image, [None, (0.1, 0.1, 0.9, 0.5)], [2, 0]) == ["", ""]
    blank = reader.read(image[:1], [(0.1, 0.1, 0.9, 0.5)], [2])[0]
    assert not set(blank) & set(GLYPH_ALPHABET)
