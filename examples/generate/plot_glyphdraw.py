"""
=====================================================
Drawing Chinese characters into images with GlyphDraw
=====================================================

:class:`~sklearn_suite.GlyphDrawGenerator` first pretrains a small text-to-image
diffusion model on captioned scenes, then teaches it - through a glyph-image
channel, a position-mask channel and glyph tokens in the cross-attention
context, with everything else frozen - to draw given characters inside a given
box. An independent recogniser reads the characters back at the box.
"""

# %%
# Scenes with captions, text and boxes
# ------------------------------------
import matplotlib.pyplot as plt
import pandas as pd

from sklearn_suite import GlyphDrawGenerator
from sklearn_suite.datasets import make_glyph_scenes
from sklearn_suite.generate import plot_samples

train = make_glyph_scenes(1000, random_state=0)
print(train[["caption", "text", "box"]].head())

# %%
# The base model, then the GlyphDraw stage on top of it
# -----------------------------------------------------
# The base model sees the characters only in its caption; it is also the
# text-only baseline. The GlyphDraw stage reuses it and its recogniser.
base = GlyphDrawGenerator(stage="base", base_steps=250, random_state=0).fit(train)
glyphdraw = GlyphDrawGenerator(
    base_model=base, ocr_model=base.ocr_model_, glyph_steps=250, random_state=0
).fit(train)
print(f"{len(glyphdraw.trainable_param_names_)} trainable tensors, e.g.")
print([n for n in glyphdraw.trainable_param_names_ if "attn2" in n][:2])

# %%
# Generate held-out prompts and read the text back
# ------------------------------------------------
held = make_glyph_scenes(48, random_state=1)
prompts = held[held["text"] != ""].head(8)
images, read = glyphdraw.read_text(prompts)
base_images, base_read = base.read_text(prompts)
for truth, ours, theirs in zip(prompts["text"], read, base_read):
    print(f"{truth!r}: GlyphDraw read {ours!r}, base read {theirs!r}")

plot_samples(
    prompts, {"GlyphDraw": images, "base model\n(text in caption)": base_images}
)
plt.show()

# %%
# Loss of the two stages
# ----------------------
for name, model, stage in (
    ("base", base, "base"),
    ("GlyphDraw stage", glyphdraw, "glyphdraw"),
):
    loss = pd.Series(model.history_[stage][:, "train_loss"])
    loss = loss.rolling(25, min_periods=1).mean()
    plt.plot(loss.to_numpy(), label=name)
plt.xlabel("training step")
plt.ylabel("denoising loss (moving mean of 25)")
plt.title("Training loss of the two stages (lower is better)")
plt.legend()
plt.show()
