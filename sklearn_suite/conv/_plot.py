"""Pictures of learned SGS maps."""

import numpy as np


def plot_scalings(scalings, *, title=None):
    """Heat maps of SGS maps, one panel per scaled conv.

    Parameters
    ----------
    scalings : dict of str to ndarray, or fitted SGSConvClassifier
        Layer name -> K x K map (e.g. ``clf.scalings_``).
    title : str, default=None

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
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6), squeeze=False)
    vmax = max(float(np.max(S)) for S in scalings.values())
    for ax, (name, S) in zip(axes[0], scalings.items()):
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
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
