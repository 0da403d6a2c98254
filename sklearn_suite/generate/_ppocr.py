"""A judge nobody here trained: PaddleOCR's PP-OCRv4 Chinese text recogniser, as
the ``rapidocr-onnxruntime`` wheel ships it (ONNX files inside the wheel, nothing
downloaded at run time)."""

import numpy as np
from PIL import Image

from sklearn_suite.datasets._glyph_scenes import box_crop

# PP-OCRv4's recogniser reads lines 48 pixels high; a margin of background
# around the text, as a detector's crop would leave, helps it on tight boxes
LINE_HEIGHT = 48
MARGIN = 8


class PPOCRReader:
    """Read the characters inside a box with PP-OCRv4 (an independent OCR judge).

    Text laid side by side (a box at least as wide as tall) is read as one line;
    stacked text (a taller box) is read cell by cell, the box cut into as many
    equal cells as it holds characters, since the recogniser reads horizontal
    lines only. Each crop is upscaled to the recogniser's 48-pixel height and
    padded with its own edge pixels. On real 32-pixel scenes of
    :func:`~sklearn_suite.datasets.make_glyph_scenes` it reads about 88% of
    boxes exactly.

    Needs the optional ``rapidocr-onnxruntime`` package
    (``pip install 'sklearn-suite[ocr]'``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_suite.datasets import make_glyph_scenes
    >>> from sklearn_suite.generate import PPOCRReader
    >>> scenes = make_glyph_scenes(20, random_state=0)
    >>> scenes = scenes[scenes.text != ""]
    >>> read = PPOCRReader().read(
    ...     np.stack(scenes.image.to_numpy()), list(scenes.box), scenes.text.str.len()
    ... )
    >>> len(read) == len(scenes)
    True
    """

    def __init__(self):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as error:
            raise ImportError(
                "PPOCRReader needs the optional rapidocr-onnxruntime package: "
                "pip install 'sklearn-suite[ocr]'"
            ) from error
        self._engine = RapidOCR()

    def _read_line(self, crop):
        """The text the recogniser reads on one (h, w, 3) uint8 crop."""
        h, w = crop.shape[:2]
        if h == 0 or w == 0:
            return ""
        width = max(1, round(w * LINE_HEIGHT / h))
        line = np.asarray(
            Image.fromarray(crop).resize((width, LINE_HEIGHT), Image.Resampling.BICUBIC)
        )
        line = np.pad(line, ((MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0)), mode="edge")
        # the engine takes OpenCV's BGR channel order
        result, _ = self._engine(
            np.ascontiguousarray(line[:, :, ::-1]),
            use_det=False,
            use_cls=False,
            use_rec=True,
        )
        return result[0][0] if result else ""

    def read(self, images, boxes, lengths):
        """Read ``lengths[i]`` characters inside ``boxes[i]`` of ``images[i]``.

        The same interface as :meth:`GlyphRecognizer.read
        <sklearn_suite.generate.GlyphRecognizer.read>`, so either judge reads
        the same boxes.

        Parameters
        ----------
        images : ndarray of shape (n, H, W, 3), uint8
        boxes : sequence of (x0, y0, x1, y1) in [0, 1], or None
        lengths : sequence of int
            Characters in each box (cells of stacked text); a box of length 0
            or None reads as "".

        Returns
        -------
        texts : list of str
        """
        texts = []
        for image, box, n in zip(images, boxes, lengths, strict=True):
            n = int(n)
            if box is None or n == 0:
                texts.append("")
                continue
            crop, side_by_side = box_crop(np.asarray(image, dtype=np.uint8), box)
            if side_by_side:
                texts.append(self._read_line(crop))
            else:
                cells = np.array_split(crop, n, axis=0)
                texts.append("".join(self._read_line(cell) for cell in cells))
        return texts
