"""Applying, saving and loading label-aware policies; on-the-fly use in a DataLoader."""

import json

import numpy as np
import torch
from sklearn.utils import check_random_state

from sklearn_suite.augment._ops import OP_NAMES, apply_triples, check_triples
from sklearn_suite.base import torch_seeded

__all__ = ["PolicyCollate", "apply_policy", "load_policy", "save_policy"]


def apply_policy(images, labels, policy, random_state=None):
    """Augment each image with a triple drawn uniformly from its label's policy.

    Parameters
    ----------
    images : torch.Tensor of shape (n, C, H, W)
        Float images in [0, 1].
    labels : sequence of hashable, length n
    policy : dict of label to list of op-name triples
    random_state : int, RandomState instance or None, default=None
        Draws the triples, the op levels and Cutout's positions.

    Returns
    -------
    images : torch.Tensor of shape (n, C, H, W)
    """
    rng = check_random_state(random_state)
    encoded = {label: check_triples(triples) for label, triples in policy.items()}
    triples = np.empty((len(labels), 3), dtype=np.int64)
    for i, label in enumerate(labels):
        if label not in encoded:
            raise ValueError(
                f"Label {label!r} has no policy; policy labels are {list(encoded)}."
            )
        options = encoded[label]
        triples[i] = options[rng.randint(len(options))]
    seed = int(rng.randint(2**31 - 1))
    with torch_seeded(seed):
        return apply_triples(images, triples, torch.Generator().manual_seed(seed))


def _plain(label):
    return label.item() if isinstance(label, np.generic) else label


def save_policy(policy, path):
    """Write a policy to JSON (labels keep their JSON type: int or str)."""
    document = {
        "format": "sklearn_suite.la3_policy",
        "version": 1,
        "ops": list(OP_NAMES),
        "policy": [
            {"label": _plain(label), "triples": [list(t) for t in triples]}
            for label, triples in policy.items()
        ],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1)


def load_policy(path):
    """Read a policy written by :func:`save_policy`.

    Returns
    -------
    policy : dict of label to list of op-name tuples

    Raises
    ------
    ValueError
        When the file is not a policy or names an unknown op.
    """
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not an LA3 policy file: {exc}.") from exc
    if (
        not isinstance(document, dict)
        or document.get("format") != "sklearn_suite.la3_policy"
    ):
        raise ValueError(f"{path} is not an LA3 policy file written by save_policy.")
    policy = {}
    for n, entry in enumerate(document.get("policy", [])):
        try:
            triples = entry["triples"]
            check_triples(triples)  # raises on unknown op names
            policy[entry["label"]] = [tuple(t) for t in triples]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}, policy entry {n}: {exc}") from exc
    if not policy:
        raise ValueError(f"{path} holds no policy entry.")
    return policy


class PolicyCollate:
    """A ``collate_fn`` for a torch ``DataLoader`` that augments every batch with a
    policy, drawing fresh triples and levels each time (so each epoch differs).

    Items are ``(image, label)`` with float images ``(C, H, W)`` in [0, 1].

    Parameters
    ----------
    policy : dict of label to list of op-name triples
    labels : sequence, default=None
        Maps the integer label in an item to the policy's key (``labels[i]``);
        None uses the item's label itself.
    random_state : int or None, default=None
    """

    def __init__(self, policy, labels=None, random_state=None):
        self.policy = policy
        self.labels = labels
        self.rng = check_random_state(random_state)

    def __call__(self, items):
        images = torch.stack([torch.as_tensor(x) for x, _ in items])
        targets = torch.as_tensor(np.array([y for _, y in items]))
        keys = targets.tolist()
        if self.labels is not None:
            keys = [self.labels[k] for k in keys]
        return apply_policy(images, keys, self.policy, self.rng), targets
