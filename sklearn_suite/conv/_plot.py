"""Pictures of learned SGS maps."""

import numpy as np


def plot_scalings(scalings, *, title=None):
    """Heat maps of SGS maps, one panel per scaled conv, in network order.

    Each cell is the factor that multiplies the weight gradient at that kernel
    position; every map has mean 1, and a map of ones is plain training.

    Parameters
    ----------
    scalings : dict of str to ndarray, or fitted SGSConvClassifier
        Layer name -> K x K map (e.g. ``clf.scalings_``), in network order.
    title : str, default=None
        Figure title; a default says what is shown.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if hasattr(scalings, "scalings_"):
        scalings = scalings.scalings_
    if not scalings:
        raise ValueError("There are no scalings to plot (was scaling=None?).")
    n = len(scalings)
    fig, axes = plt.subplots(
        1, n, figsize=(2.2 * n + 1.2, 3.0), squeeze=False, layout="constrained"
    )
    vmax = max(float(np.max(S)) for S in scalings.values())
    for index, (ax, S) in enumerate(zip(axes[0], scalings.values()), start=1):
        image = ax.imshow(S, cmap="viridis", vmin=0, vmax=vmax)
        for (i, j), value in np.ndenumerate(S):
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value < 0.6 * vmax else "black",
            )
        ax.set_title(f"conv layer {index} of {n}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(
        image, ax=axes[0].tolist(), shrink=0.8, label="gradient multiplier (1 = plain)"
    )
    fig.suptitle(
        (title or "Spatial gradient scaling maps")
        + "\nweight-gradient multiplier at each kernel position (mean 1); a heavy "
        "centre is what 3x3 + 1x3 + 3x1 branches would give",
        fontsize=9,
    )
    return fig
