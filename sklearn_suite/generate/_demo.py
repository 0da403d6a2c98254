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
    fig, axes = plt.subplots(
        len(rows),
        n,
        figsize=(1.1 * n + 0.8, 1.25 * len(rows) + 0.8),
        layout="constrained",
    )
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
    fig.suptitle(
        "Generated images for held-out prompts: the characters above each column "
        "should\nappear inside the dashed box (a real OCR reads the box)",
        fontsize=8,
    )
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


# image side, training scenes, steps of each stage, DDIM steps, model size
SETTINGS = {
    "quick": dict(size=16, n_scenes=200, steps=20, sampling_steps=5,
                  model={"unet_channels": (8, 16), "context_dim": 16},
                  ocr=dict(n_scenes=300, epochs=2)),
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
        "note": "at CPU scale neither model draws legible characters yet (chance "
        "is about 0.07; benchmarks/results/glyphdraw.md)",
        "pictures": [str(path)],
    }
