"""Pictures of generated images."""

import numpy as np


def plot_samples(prompts, rows, path=None, font_path=None):
    """A grid of generated images: one row per model, one column per prompt, the
    prompt's text on top and its box outlined.

    Parameters
    ----------
    prompts : pandas.DataFrame
        The prompts, with columns ``text`` and ``box``; the first 8 are shown.
    rows : dict of str to ndarray of shape (n, H, W, 3)
        Row label -> the images generated for ``prompts``.
    path : str or Path, default=None
        Where to save the figure; None only returns it.
    font_path : str, default=None
        A CJK font for the titles; None finds one (see ``find_cjk_font``).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.patches import Rectangle

    from sklearn_suite.datasets import find_cjk_font

    font = font_manager.FontProperties(fname=find_cjk_font(font_path), size=8)
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
        "Generated images for held-out prompts: the characters above each column\n"
        "should appear inside the dashed box (a separately trained recogniser "
        "reads it)",
        fontsize=8,
    )
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig
