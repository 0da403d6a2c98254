"""The GlyphDraw row of ``sklearn-suite demo``."""

from pathlib import Path

import numpy as np

from sklearn_suite.datasets import make_glyph_scenes
from sklearn_suite.generate._glyphdraw import GlyphDrawGenerator
from sklearn_suite.generate._ocr import GlyphRecognizer
from sklearn_suite.generate._plot import plot_samples

# image side, training scenes, steps of each stage, DDIM steps, model size
SETTINGS = {
    "quick": dict(size=16, n_scenes=200, steps=20, sampling_steps=5,
                  model={"unet_channels": (8, 16), "context_dim": 16},
                  ocr=dict(n_scenes=300, max_epochs=2)),
    "default": dict(size=32, n_scenes=2000, steps=400, sampling_steps=25, model={},
                    ocr=None),
    "full": dict(size=32, n_scenes=4000, steps=1500, sampling_steps=25, model={},
                 ocr=None),
}  # fmt: skip


def run_demo(output_dir, *, preset="default", random_state=0, verbose=0):
    """Pretrain a small text-to-image base model on generated scenes, run the
    GlyphDraw stage on top of it, and compare OCR accuracy at the box on
    held-out prompts with the base model given the characters in the caption."""
    config = SETTINGS[preset]
    size = config["size"]
    train = make_glyph_scenes(
        config["n_scenes"], image_size=size, random_state=random_state
    )
    held = make_glyph_scenes(64, image_size=size, random_state=random_state + 1)
    prompts = held[held["text"] != ""]
    ocr = GlyphRecognizer(**config["ocr"]) if config["ocr"] else None
    sampling = dict(
        num_inference_steps=config["sampling_steps"],
        random_state=random_state,
        verbose=verbose,
        **config["model"],
    )
    base = GlyphDrawGenerator(
        stage="base", base_steps=config["steps"], ocr_model=ocr, **sampling
    ).fit(train)
    glyphdraw = GlyphDrawGenerator(
        base_model=base, ocr_model=base.ocr_model_, glyph_steps=config["steps"],
        **sampling,
    ).fit(train)  # fmt: skip
    base_images, base_read = base.read_text(prompts)
    images, read = glyphdraw.read_text(prompts)
    texts = list(prompts["text"])
    path = Path(output_dir) / "glyphdraw_samples.png"
    plot_samples(
        prompts,
        {"GlyphDraw": images, "base model\n(text in caption)": base_images},
        path,
        glyphdraw.font_path_,
    )
    return {
        "method": "GlyphDrawGenerator",
        "data": f"generated {size}px scenes with 1-2 of 10 Chinese characters",
        "metric": "OCR exact match at the box",
        "ours": float(np.mean([r == t for r, t in zip(read, texts, strict=True)])),
        "baseline": float(
            np.mean([r == t for r, t in zip(base_read, texts, strict=True)])
        ),
        "baseline_name": "base model, text only in the caption",
        "note": "this demo trains a small model (chance is about 0.07); at the "
        "benchmark's defaults the library's recogniser reads GlyphDraw's boxes at "
        "0.95 against 0.06 for the base, PP-OCR at 0.33 "
        "(benchmarks/results/glyphdraw.md)",
        "pictures": [str(path)],
    }
