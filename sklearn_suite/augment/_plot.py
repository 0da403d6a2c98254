"""Pictures of label-aware policies."""


def plot_policy(policy, *, title=None):
    """Heat map of op frequency per label in a policy.

    Parameters
    ----------
    policy : dict of label to list of op-name triples, or fitted LabelAwareAugmenter

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
    fig, ax = plt.subplots(figsize=(0.45 * freq.shape[1] + 2, 0.35 * len(freq) + 1.5))
    image = ax.imshow(freq.to_numpy(), cmap="magma", aspect="auto")
    ax.set_xticks(
        range(freq.shape[1]), freq.columns, rotation=60, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(freq)), [str(i) for i in freq.index], fontsize=8)
    ax.set_xlabel("op")
    ax.set_ylabel("label")
    fig.colorbar(image, ax=ax, label="share of op slots in the policy")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
