"""Predicted-versus-true pictures for performance predictors."""

import numpy as np


def plot_predicted_vs_true(
    y_true, y_pred, *, groups=None, title=None, metric="accuracy", ax=None
):
    """Scatter of predicted against true performance, one colour per group, with
    the identity line (perfect prediction) and each group's Spearman rank
    correlation (1 = ranks the networks exactly; what a NAS search needs).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
    groups : array-like of shape (n,), default=None
        A label per point (e.g. the network family); one colour each.
    title : str, default=None
    metric : str, default="accuracy"
        Name of the performance measure, for the axis labels.
    ax : matplotlib Axes, default=None
        Draw into these axes; None makes a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from sklearn_suite.metrics import spearman_score

    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.4, 4.4))
    groups = np.asarray(["all"] * len(y_true) if groups is None else groups)
    for group in dict.fromkeys(groups):
        mask = groups == group
        rho = spearman_score(y_true[mask], y_pred[mask]) if mask.sum() > 1 else 0.0
        ax.scatter(
            y_true[mask],
            y_pred[mask],
            s=8,
            alpha=0.6,
            label=f"{group} (Spearman {rho:.2f})",
        )
    finite = np.concatenate([y_true, y_pred])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = finite.min(), finite.max()
        pad = 0.05 * (high - low or 1.0)
        ax.plot(
            [low - pad, high + pad],
            [low - pad, high + pad],
            color="grey",
            linestyle="--",
            linewidth=0.8,
            label="perfect prediction",
        )
        ax.set_xlim(low - pad, high + pad)
        ax.set_ylim(low - pad, high + pad)
        ax.set_aspect("equal")
    ax.set_xlabel(f"true {metric}")
    ax.set_ylabel(f"predicted {metric}")
    ax.legend(fontsize=7)
    ax.set_title(
        (title + "\n" if title else "")
        + "points on the dashed line are predicted exactly",
        fontsize=8,
    )
    ax.figure.tight_layout()
    return ax.figure
