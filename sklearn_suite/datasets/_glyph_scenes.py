"""Small scenes with rendered Chinese text, for GlyphDraw (generator and renderer)."""

import functools
import os

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = [
    "GLYPH_ALPHABET",
    "SCENE_COLOURS",
    "SCENE_SHAPES",
    "find_cjk_font",
    "font_has_glyphs",
    "make_glyph_scenes",
    "render_glyph_image",
    "render_text_box",
    "box_mask",
]

# Ten characters that are distinct at 12 px and common in signs.
GLYPH_ALPHABET = "山水火木日月田天王心"

SCENE_COLOURS = {
    "red": (200, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 70, 200),
    "yellow": (230, 210, 50),
    "purple": (140, 50, 170),
    "grey": (128, 128, 128),
}
SCENE_SHAPES = ("none", "circle", "square", "triangle")
_INKS = {"black": (15, 15, 15), "white": (245, 245, 245), **SCENE_COLOURS}

# Debian / Ubuntu / Fedora / macOS locations of fonts with CJK glyphs, first found wins.
_CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
_PROBE = "山水"


@functools.lru_cache(maxsize=16)
def _codepoints(font_path):
    from fontTools.ttLib import TTCollection, TTFont

    if font_path.lower().endswith((".ttc", ".otc")):
        font = TTCollection(font_path, lazy=True).fonts[0]
    else:
        font = TTFont(font_path, lazy=True)
    return frozenset(font.getBestCmap())


def font_has_glyphs(font_path, text):
    """Whether the font at ``font_path`` has a glyph for every character of ``text``.

    Parameters
    ----------
    font_path : str
        A TrueType / OpenType font or collection.
    text : str
        Characters to look up (whitespace is ignored).

    Returns
    -------
    bool
    """
    cmap = _codepoints(str(font_path))
    return all(ord(ch) in cmap for ch in text if not ch.isspace())


def find_cjk_font(font_path=None):
    """Return the path of a font that can render Chinese characters.

    Parameters
    ----------
    font_path : str or None, default=None
        A font to use; it is checked for CJK glyphs. None takes the font named by
        the environment variable ``SKLEARN_SUITE_CJK_FONT`` if set, else searches
        the usual system locations, then every font matplotlib knows.

    Returns
    -------
    font_path : str

    Raises
    ------
    ValueError
        When ``font_path`` is not a font with CJK glyphs, or none is installed.
    """
    if font_path is None:
        font_path = os.environ.get("SKLEARN_SUITE_CJK_FONT") or None
    if font_path is not None:
        font_path = os.fspath(font_path)
        if not os.path.isfile(font_path):
            raise ValueError(f"font_path={font_path!r} is not a file.")
        try:
            ok = font_has_glyphs(font_path, _PROBE)
        except Exception as exc:  # fontTools raises many types on non-fonts
            msg = f"font_path={font_path!r} is not a readable font: {exc}"
            raise ValueError(msg) from exc
        if not ok:
            raise ValueError(
                f"font_path={font_path!r} has no glyphs for Chinese characters "
                f"(tried {_PROBE!r}); pass a CJK font such as wqy-microhei.ttc."
            )
        return font_path
    for path in _CJK_FONT_CANDIDATES:
        if os.path.isfile(path) and font_has_glyphs(path, _PROBE):
            return path
    from matplotlib import font_manager

    for path in sorted(font_manager.findSystemFonts()):
        try:
            if font_has_glyphs(path, _PROBE):
                return path
        except Exception:  # unreadable font files are skipped
            continue
    raise ValueError(
        "No font with Chinese (CJK) glyphs was found. Install one (Debian/Ubuntu: "
        "`apt-get install fonts-wqy-microhei`) or pass font_path= to a .ttf/.ttc "
        "font that has them."
    )


@functools.lru_cache(maxsize=64)
def _char_bitmap(font_path, ch, size):
    """Ink coverage in [0, 1] of one character, centred in a size x size cell."""
    from PIL import Image, ImageDraw, ImageFont

    scale = 4  # draw large, then downsample: antialiased strokes at small sizes
    big = size * scale
    font = ImageFont.truetype(font_path, int(big * 0.95))
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = draw.textbbox((0, 0), ch, font=font)
    draw.text(
        ((big - (x1 - x0)) / 2 - x0, (big - (y1 - y0)) / 2 - y0), ch, 255, font=font
    )
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _text_ink(font_path, text, width, height):
    """Ink of ``text`` laid out in a ``height x width`` box: side by side when the
    box is wider than tall, stacked otherwise (GlyphDraw's layout rule)."""
    ink = np.zeros((height, width), dtype=np.float32)
    n = len(text)
    if n == 0:
        return ink
    horizontal = width >= height
    cell = min(width // n, height) if horizontal else min(height // n, width)
    cell = max(cell, 1)
    for i, ch in enumerate(text):
        bitmap = _char_bitmap(font_path, ch, cell)
        if horizontal:
            x = (width - n * cell) // 2 + i * cell
            y = (height - cell) // 2
        else:
            x = (width - cell) // 2
            y = (height - n * cell) // 2 + i * cell
        ink[y : y + cell, x : x + cell] = np.maximum(
            ink[y : y + cell, x : x + cell], bitmap
        )
    return ink


def box_crop(image, box):
    """The pixels of ``image`` (H, W, C) inside the normalised ``box``, and
    whether text in it is laid side by side (box at least as wide as tall) or
    stacked: GlyphDraw's layout rule, as :func:`_text_ink` draws it."""
    x0, y0, x1, y1 = _box_pixels(box, image.shape[0])
    return image[y0:y1, x0:x1], (x1 - x0) >= (y1 - y0)


def _box_pixels(box, size):
    """Integer pixel bounds ``(x0, y0, x1, y1)`` of a normalised box."""
    x0, y0, x1, y1 = (float(v) for v in box)
    px0, py0 = int(round(x0 * size)), int(round(y0 * size))
    px1, py1 = max(int(round(x1 * size)), px0 + 1), max(int(round(y1 * size)), py0 + 1)
    return px0, py0, min(px1, size), min(py1, size)


def render_text_box(text, box, size, font_path):
    """Ink of ``text`` drawn inside ``box`` on a ``size x size`` canvas.

    Parameters
    ----------
    text : str
    box : tuple of 4 floats
        ``(x0, y0, x1, y1)`` in [0, 1] image coordinates.
    size : int
    font_path : str

    Returns
    -------
    ink : ndarray of shape (size, size), float32 in [0, 1]
    """
    ink = np.zeros((size, size), dtype=np.float32)
    if not text:
        return ink
    x0, y0, x1, y1 = _box_pixels(box, size)
    ink[y0:y1, x0:x1] = _text_ink(font_path, text, x1 - x0, y1 - y0)
    return ink


def render_glyph_image(text, size, font_path, horizontal=True):
    """GlyphDraw's glyph condition: ``text`` centred on an empty canvas.

    Characters take 40% of the canvas side each, side by side (``horizontal``)
    or stacked; the empty text gives an all-zero image.

    Parameters
    ----------
    text : str
    size : int
    font_path : str
    horizontal : bool, default=True

    Returns
    -------
    glyph : ndarray of shape (size, size), float32 ink in [0, 1]
    """
    glyph = np.zeros((size, size), dtype=np.float32)
    if not text:
        return glyph
    cell = max(int(round(0.4 * size)), 1)
    long_side = min(cell * len(text), size)
    w, h = (long_side, cell) if horizontal else (cell, long_side)
    x0, y0 = (size - w) // 2, (size - h) // 2
    glyph[y0 : y0 + h, x0 : x0 + w] = _text_ink(font_path, text, w, h)
    return glyph


def box_mask(box, size):
    """Binary position mask: 1 inside ``box``, 0 outside (None gives all zeros).

    GlyphDraw's code stores the inverse (0 inside); 1 inside is used here so that
    an all-zero channel means "no position condition" for text-free images and
    for condition dropout alike.

    Parameters
    ----------
    box : tuple of 4 floats or None
    size : int

    Returns
    -------
    mask : ndarray of shape (size, size), float32
    """
    mask = np.zeros((size, size), dtype=np.float32)
    if box is not None:
        x0, y0, x1, y1 = _box_pixels(box, size)
        mask[y0:y1, x0:x1] = 1.0
    return mask


def _draw_shape(image, shape, colour, rng):
    size = image.shape[0]
    r = rng.uniform(0.18, 0.3) * size
    cx, cy = rng.uniform(r, size - r, size=2)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    if shape == "circle":
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    elif shape == "square":
        inside = (np.abs(xx - cx) <= r * 0.85) & (np.abs(yy - cy) <= r * 0.85)
    else:  # upward triangle
        top, bottom = cy - r, cy + r
        half = (yy - top) / (2 * r) * r
        inside = (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)
    image[inside] = colour


def make_glyph_scenes(
    n_samples=1000,
    *,
    image_size=32,
    text_fraction=0.5,
    alphabet=GLYPH_ALPHABET,
    max_chars=2,
    font_path=None,
    random_state=None,
):
    """Coloured scenes with captions, half of them with Chinese text in a box.

    Each scene has a flat background colour, optionally one shape in another
    colour, and - with probability ``text_fraction`` - 1 to ``max_chars``
    characters of ``alphabet`` drawn in a random box (side by side when the box is
    wider than tall, stacked otherwise) in an ink that contrasts with the
    background. The caption describes the scene, e.g.
    ``"red background, blue circle, text “山水”"`` (the text in Chinese quotes, as
    GlyphDraw marks it in prompts).

    Parameters
    ----------
    n_samples : int, default=1000
    image_size : int, default=32
        Side of the square images.
    text_fraction : float, default=0.5
        Probability that a scene carries text.
    alphabet : str, default=GLYPH_ALPHABET
        Characters to draw from.
    max_chars : int, default=2
    font_path : str or None, default=None
        A CJK font; None searches the system (see :func:`find_cjk_font`).
    random_state : None, int or RandomState, default=None

    Returns
    -------
    scenes : pandas.DataFrame
        Columns ``image`` (``image_size x image_size x 3`` uint8), ``caption``,
        ``text`` ("" without text), ``box`` (``(x0, y0, x1, y1)`` in [0, 1] or
        None), ``background``, ``shape`` and ``shape_colour`` (ground truth for
        attribute classifiers; "none" without a shape).

    Examples
    --------
    >>> from sklearn_suite.datasets import make_glyph_scenes
    >>> scenes = make_glyph_scenes(4, random_state=0)
    >>> scenes["image"].iloc[0].shape, scenes["image"].iloc[0].dtype
    ((32, 32, 3), dtype('uint8'))
    >>> sorted(scenes.columns)[:3]
    ['background', 'box', 'caption']
    """
    if not 0.0 <= text_fraction <= 1.0:
        raise ValueError(f"text_fraction must be in [0, 1], got {text_fraction!r}.")
    if int(image_size) < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size!r}.")
    if not alphabet or int(max_chars) < 1:
        raise ValueError("alphabet must be a non-empty str and max_chars >= 1.")
    font_path = find_cjk_font(font_path)
    if not font_has_glyphs(font_path, alphabet):
        raise ValueError(
            f"The font {font_path!r} lacks glyphs of alphabet {alphabet!r}."
        )
    rng = check_random_state(random_state)
    size = int(image_size)
    colours = list(SCENE_COLOURS)
    rows = []
    for _ in range(int(n_samples)):
        background = colours[rng.randint(len(colours))]
        image = np.empty((size, size, 3), dtype=np.float32)
        image[:] = SCENE_COLOURS[background]
        shape = SCENE_SHAPES[rng.randint(len(SCENE_SHAPES))]
        shape_colour = "none"
        parts = [f"{background} background"]
        if shape != "none":
            shape_colour = [c for c in colours if c != background][
                rng.randint(len(colours) - 1)
            ]
            _draw_shape(image, shape, SCENE_COLOURS[shape_colour], rng)
            parts.append(f"{shape_colour} {shape}")
        text, box = "", None
        if rng.uniform() < text_fraction:
            n_chars = rng.randint(1, max_chars + 1)
            text = "".join(
                alphabet[i] for i in rng.randint(len(alphabet), size=n_chars)
            )
            cell = int(round(rng.uniform(0.36, 0.44) * size))
            horizontal = n_chars == 1 or rng.uniform() < 0.5
            w, h = (cell * n_chars, cell) if horizontal else (cell, cell * n_chars)
            x0, y0 = rng.randint(0, size - w + 1), rng.randint(0, size - h + 1)
            box = (x0 / size, y0 / size, (x0 + w) / size, (y0 + h) / size)
            ink_colour = _contrasting_ink(SCENE_COLOURS[background], rng)
            alpha = render_text_box(text, box, size, font_path)[..., None]
            image = (1 - alpha) * image + alpha * np.asarray(
                ink_colour, dtype=np.float32
            )
            parts.append(f"text “{text}”")
        rows.append(
            {
                "image": np.clip(np.rint(image), 0, 255).astype(np.uint8),
                "caption": ", ".join(parts),
                "text": text,
                "box": box,
                "background": background,
                "shape": shape,
                "shape_colour": shape_colour,
            }
        )
    return pd.DataFrame(rows)


def _luminance(rgb):
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def _contrasting_ink(background_rgb, rng):
    """A random ink at least 90 luminance levels away from the background."""
    base = _luminance(background_rgb)
    options = [c for c in _INKS.values() if abs(_luminance(c) - base) >= 90]
    return options[rng.randint(len(options))]
