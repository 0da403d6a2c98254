"""Pictures of label-aware policies."""


def plot_policy(policy, *, title=None):
    """Heat map of how often each augmentation op appears in each label's policy.

    Parameters
    ----------
    policy : dict of label to list of op-name triples, or fitted LabelAwareAugmenter
    title : str, default=None
        Figure title; a default says what is shown.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from sklearn_suite.augment._la3 import policy_op_frequency

    if hasattr(policy, "policy_"):
        policy = policy.policy_
    freq = policy_op_frequency(policy)
    fig, ax = plt.subplots(
        figsize=(0.45 * freq.shape[1] + 2.5, 0.35 * len(freq) + 2.2),
        layout="constrained",
    )
    image = ax.imshow(freq.to_numpy(), cmap="magma", aspect="auto", vmin=0)
    ax.set_xticks(
        range(freq.shape[1]), freq.columns, rotation=60, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(freq)), [str(i) for i in freq.index], fontsize=8)
    ax.set_xlabel("augmentation op")
    ax.set_ylabel("class label")
    fig.colorbar(image, ax=ax, label="share of the label's op slots")
    ax.set_title(
        (title or "Label-aware augmentation policy")
        + "\nrows differ where a label is best augmented differently "
        "(e.g. no rotation for orientation-defined labels)",
        fontsize=9,
    )
    return fig
