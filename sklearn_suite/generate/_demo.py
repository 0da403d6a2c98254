"""The GlyphDraw row of ``sklearn-suite demo``."""

from pathlib import Path

import numpy as np

from sklearn_suite.datasets import make_glyph_scenes
from sklearn_suite.generate._glyphdraw import GlyphDrawGenerator
from sklearn_suite.generate._ocr import GlyphRecognizer


def plot_samples(prompts, rows, path, font_path):
    """A grid: one row of generated images per model, the prompt's text on top
    and its box outlined."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.patches import Rectangle

    font = font_manager.FontProperties(fname=font_path, size=8)
    n = min(8, len(prompts))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n, 1.25 * len(rows)))
    axes = np.atleast_2d(axes)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c])
            size = images.shape[1]
            x0, y0, x1, y1 = (v * size - 0.5 for v in prompts["box"].iloc[c])
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.6,
                                   ec="white", ls="--"))  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(prompts["text"].iloc[c], fontproperties=font)
        axes[r, 0].set_ylabel(name, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_demo(output_dir, *, quick=False, random_state=0, verbose=0):
    """Pretrain a small text-to-image base model on generated scenes, run the
    GlyphDraw stage on top of it, and compare OCR accuracy at the box on
    held-out prompts with the base model given the characters in the caption."""
    size = 16 if quick else 32
    train = make_glyph_scenes(
        200 if quick else 2000, image_size=size, random_state=random_state
    )
    held = make_glyph_scenes(64, image_size=size, random_state=random_state + 1)
    prompts = held[held["text"] != ""]
    steps = 5 if quick else 400
    tiny = {"unet_channels": (8, 16), "context_dim": 16} if quick else {}
    ocr = GlyphRecognizer(n_scenes=300, epochs=2) if quick else None
    base = GlyphDrawGenerator(
        stage="base", base_steps=steps, num_inference_steps=5 if quick else 25,
        ocr_model=ocr, random_state=random_state, verbose=verbose, **tiny,
    ).fit(train)  # fmt: skip
    glyphdraw = GlyphDrawGenerator(
        base_model=base, ocr_model=base.ocr_model_, glyph_steps=steps,
        num_inference_steps=5 if quick else 25, random_state=random_state,
        verbose=verbose, **tiny,
    ).fit(train)  # fmt: skip
    base_images, base_read = base.read_text(prompts)
    images, read = glyphdraw.read_text(prompts)
    texts = list(prompts["text"])
    path = Path(output_dir) / "glyphdraw_samples.png"
    plot_samples(
        prompts,
        {"GlyphDraw": images, "base (text in caption)": base_images},
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
        "pictures": [str(path)],
    }
