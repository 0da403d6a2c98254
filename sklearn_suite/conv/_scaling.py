"""Spatial gradient scaling (SGS): the scaling maps and the skorch callback.

SGS multiplies the weight gradient of every KxK convolution (K > 1) by a KxK map S
(mean 1, shared over both channel dimensions) after ``backward`` and before the
optimizer step. The forward pass is unchanged. S either comes from a branch
structure through the equivalence lemma (:func:`branched_equivalent_scaling`) or is
re-estimated during training from the normalised mutual information between
neighbouring pixels of each conv's zero-padded input (:func:`nmi_dependence`).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback
from skorch.utils import to_device
from torch import nn

__all__ = [
    "SpatialGradientScaling",
    "branched_equivalent_scaling",
    "dependence_to_scaling",
    "estimate_scalings",
    "nmi_dependence",
    "scalable_convs",
    "scale_conv_gradients",
]


def scalable_convs(module):
    """The convolutions SGS scales: every ``nn.Conv2d`` with both kernel sides > 1.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    convs : dict of str to torch.nn.Conv2d
        Keyed by the name in ``module.named_modules()``, in module order.
    """
    return {
        name: m
        for name, m in module.named_modules()
        if isinstance(m, nn.Conv2d) and min(m.kernel_size) > 1
    }


def _branch_mask(spec, kernel_size):
    kh, kw = kernel_size
    named = {
        "square": (kh, kw),
        "horizontal": (1, kw),
        "vertical": (kh, 1),
        "center": (1, 1),
    }
    if isinstance(spec, str):
        if spec not in named:
            raise ValueError(
                f"Unknown branch {spec!r}; expected one of {sorted(named)} or a "
                "(height, width) tuple."
            )
        bh, bw = named[spec]
    else:
        try:
            bh, bw = (int(s) for s in spec)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"A branch must be a name or a (height, width) tuple; got {spec!r}."
            ) from exc
        if not (
            0 < bh <= kh and 0 < bw <= kw and bh % 2 == kh % 2 and bw % 2 == kw % 2
        ):
            raise ValueError(
                f"Branch kernel {(bh, bw)} cannot be centred in a {kernel_size} kernel."
            )
    mask = np.zeros((kh, kw))
    top, left = (kh - bh) // 2, (kw - bw) // 2
    mask[top : top + bh, left : left + bw] = 1.0
    return mask


def branched_equivalent_scaling(kernel_size, branches, alphas=None, normalize=True):
    """The scaling map equivalent to training a conv as a sum of branches.

    A conv trained as ``sum_b alpha_b * conv(x, M_b * W_b)`` (fixed spatial masks
    ``M_b``, scalar ``alpha_b``, no BatchNorm inside the branches) follows, under
    SGD with or without momentum and without weight decay on the branches, the same
    trajectory of its merged kernel as SGS with ``S = sum_b alpha_b**2 * M_b``.

    Parameters
    ----------
    kernel_size : tuple of int
        ``(K_h, K_w)`` of the merged conv.
    branches : sequence
        Each a name (``"square"`` for the full kernel, ``"horizontal"`` for the
        centre row, ``"vertical"`` for the centre column, ``"center"`` for 1x1) or a
        centred ``(height, width)``.
    alphas : sequence of float, default=None
        Branch coefficients; ones when None.
    normalize : bool, default=True
        Divide by the mean so that ``S.mean() == 1`` (SGS's convention; the raw
        map equals the branched model at the same learning rate).

    Returns
    -------
    S : ndarray of shape kernel_size
    """
    kernel_size = tuple(int(k) for k in kernel_size)
    branches = list(branches)
    if not branches:
        raise ValueError("branches must name at least one branch.")
    alphas = np.ones(len(branches)) if alphas is None else np.asarray(alphas, float)
    if alphas.shape != (len(branches),):
        raise ValueError(
            f"alphas must have one entry per branch ({len(branches)}); got "
            f"{alphas.shape[0] if alphas.ndim else 'a scalar'}."
        )
    S = sum(a**2 * _branch_mask(b, kernel_size) for a, b in zip(alphas, branches))
    if np.any(S <= 0):
        raise ValueError(
            "The branches leave kernel positions uncovered (or have alpha=0), so "
            f"S has zeros: {S.tolist()}; add a 'square' branch."
        )
    return S / S.mean() if normalize else S


def _entropy_bits(counts, dim):
    total = counts.sum(dim=dim, keepdim=True)
    p = counts / total
    logp = torch.where(p > 0, torch.log2(p), torch.zeros_like(p))
    return -(p * logp).sum(dim=dim)


def _saturating_nmi(X, Y, k, zero_diagonal):
    """k-transformed NMI of paired samples, one value per row of ``X`` and ``Y``."""
    n_channels, n_pairs = X.shape
    bins = 1 + math.ceil(math.log2(n_pairs))  # Sturges

    def bin_index(v):
        lo, hi = torch.aminmax(v, dim=1, keepdim=True)
        scale = bins / (hi - lo + 1e-12)
        return (v - lo).mul_(scale).to(torch.int32).clamp_(max=bins - 1)

    offset = torch.arange(n_channels, device=X.device, dtype=torch.int32)[:, None]
    joint = bin_index(X).mul_(bins).add_(bin_index(Y)).add_(offset * bins * bins)
    counts = torch.bincount(joint.flatten(), minlength=n_channels * bins * bins)
    counts = counts.reshape(n_channels, bins, bins).double()
    if zero_diagonal:
        counts.diagonal(dim1=1, dim2=2).zero_()
    h_x = _entropy_bits(counts.sum(2), dim=1)
    h_y = _entropy_bits(counts.sum(1), dim=1)
    h_xy = _entropy_bits(counts.flatten(1), dim=1)
    nmi = (h_x + h_y - h_xy) / h_xy  # NaN for a constant channel
    return k * nmi / ((k - 1) * nmi + 1)


def nmi_dependence(feature_map, kernel_size, *, k=5, diag_removal=False, dilation=1):
    """Dependence matrix of a padded input feature map, as SGS estimates it.

    For every displacement ``d`` inside the kernel window (``-d`` is mirrored), the
    pairs of values at ``p`` and ``p + d`` over all positions and images give a 2-D
    histogram with Sturges bins over each variable's [min, max]. NMI is
    ``(H(X) + H(Y) - H(X, Y)) / H(X, Y)`` in bits, mapped through
    ``f_k(x) = k x / ((k - 1) x + 1)``; the centre is 1. Channels are averaged
    with ``nanmean``.

    Parameters
    ----------
    feature_map : torch.Tensor of shape (N, C, H, W)
        The conv input, already padded as the conv pads.
    kernel_size : tuple of int
        Odd ``(K_h, K_w)``.
    k : float, default=5
        Strength of the saturating transform.
    diag_removal : bool, default=False
        Drop pairs where either value is exactly 0 and zero the histogram diagonal
        (the paper's ImageNet setting); a NaN then becomes 0.
    dilation : int or tuple of int, default=1
        The conv's dilation: displacements are kernel offsets times dilation.

    Returns
    -------
    D : torch.Tensor of shape kernel_size, float64
    """
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel_size must be odd; got {tuple(kernel_size)}.")
    dil_h, dil_w = (dilation, dilation) if isinstance(dilation, int) else dilation
    # float32 binning is as exact as the float32 activations it bins
    fm = feature_map.detach().float().transpose(0, 1).contiguous()  # (C, N, H, W)
    n_channels, _, height, width = fm.shape
    ch, cw = kh // 2, kw // 2
    D = torch.full((n_channels, kh, kw), float("nan"), dtype=torch.float64)
    D[:, ch, cw] = 1.0
    for i in range(kh):
        for j in range(kw):
            di, dj = i - ch, j - cw
            if (di, dj) <= (0, 0):  # the centre, or the mirror of a later pair
                continue
            dy, dx = di * dil_h, dj * dil_w
            if dy >= height or abs(dx) >= width:
                continue
            centre = fm[:, :, : height - dy, max(0, -dx) : width - max(0, dx)]
            neighbour = fm[:, :, dy:, max(0, dx) : width - max(0, -dx)]
            X = centre.reshape(n_channels, -1)
            Y = neighbour.reshape(n_channels, -1)
            if diag_removal:
                value = torch.zeros(n_channels, dtype=torch.float64)
                for c in range(n_channels):
                    keep = (X[c] != 0) & (Y[c] != 0)
                    if keep.any():
                        v = _saturating_nmi(X[c, keep][None], Y[c, keep][None], k, True)
                        value[c] = torch.nan_to_num(v, nan=0.0)[0]
            else:
                value = _saturating_nmi(X, Y, k, False).cpu()
            D[:, i, j] = value
            D[:, 2 * ch - i, 2 * cw - j] = value
    return D.nanmean(dim=0)


def dependence_to_scaling(D):
    """Normalise a dependence matrix to mean 1 (NaN where it cannot be)."""
    return D / D.mean()


def _pad_like_conv(x, conv):
    kh, kw = conv.kernel_size
    dh, dw = conv.dilation
    if conv.padding == "valid":
        return x
    if conv.padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pad = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    else:
        ph, pw = conv.padding
        pad = (pw, pw, ph, ph)
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    return F.pad(x, pad, mode=mode)


@torch.no_grad()
def estimate_scalings(module, X, convs=None, *, k=5, diag_removal=False):
    """Estimate the SGS map of each conv from a forward pass over ``X``.

    The module runs in eval mode without grad; each conv's input is captured by a
    forward pre-hook and padded as the conv pads it. The module's mode is restored.

    Parameters
    ----------
    module : torch.nn.Module
    X : torch.Tensor
        A batch of training inputs on the module's device.
    convs : dict of str to torch.nn.Conv2d, default=None
        Convs to estimate; :func:`scalable_convs` when None.
    k : float, default=5
    diag_removal : bool, default=False

    Returns
    -------
    scalings : dict of str to torch.Tensor
        Mean-1 maps; NaN entries mark a conv whose map could not be estimated.
    """
    convs = scalable_convs(module) if convs is None else convs
    dependences = {}

    def capture(name, conv, args):
        dependences[name] = nmi_dependence(
            _pad_like_conv(args[0], conv),
            conv.kernel_size,
            k=k,
            diag_removal=diag_removal,
            dilation=conv.dilation,
        )

    handles = [
        conv.register_forward_pre_hook(
            lambda conv, args, name=name: capture(name, conv, args)
        )
        for name, conv in convs.items()
    ]
    was_training = module.training
    module.eval()
    try:
        module(X)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return {name: dependence_to_scaling(D) for name, D in dependences.items()}


def scale_conv_gradients(convs, scalings):
    """Multiply each conv's weight gradient in place by its map (broadcast over
    both channel dimensions). Biases are left alone."""
    for name, conv in convs.items():
        if conv.weight.grad is not None:
            conv.weight.grad.mul_(scalings[name])


class SpatialGradientScaling(Callback):
    """skorch callback that applies spatial gradient scaling during training.

    Parameters
    ----------
    method : {"mi", "branch"}, default="mi"
        ``"mi"`` re-estimates S from mutual information every ``update_every``
        epochs (starting at the first); ``"branch"`` uses the fixed map of
        ``branches`` and ``branch_alphas``.
    k : float, default=5
        Saturating transform strength for ``"mi"``.
    update_every : int, default=5
        Epochs between re-estimations.
    n_samples : int, default=256
        Training images drawn (without replacement) for each estimation.
    diag_removal : bool, default=False
        See :func:`nmi_dependence`.
    branches : sequence, default=("square", "horizontal", "vertical")
        Branch structure for ``"branch"``.
    branch_alphas : sequence of float, default=None
        Branch coefficients for ``"branch"``.
    seed : int, default=0
        Seeds the draw of estimation images (a private generator, so the training
        shuffle is unaffected).

    Attributes
    ----------
    scalings_ : dict of str to ndarray
        The map in use at the end of training, per conv.
    history_ : list of dict
        One entry per (re-)estimation: ``{"epoch": int, "scalings": {...}}``.
    """

    def __init__(
        self,
        method="mi",
        k=5,
        update_every=5,
        n_samples=256,
        diag_removal=False,
        branches=("square", "horizontal", "vertical"),
        branch_alphas=None,
        seed=0,
    ):
        self.method = method
        self.k = k
        self.update_every = update_every
        self.n_samples = n_samples
        self.diag_removal = diag_removal
        self.branches = branches
        self.branch_alphas = branch_alphas
        self.seed = seed

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._convs = scalable_convs(net.module_)
        self._generator = torch.Generator().manual_seed(self.seed)
        self._epoch = 0
        self.history_ = []
        if self.method == "branch":
            maps = {
                name: torch.as_tensor(
                    branched_equivalent_scaling(
                        conv.kernel_size, self.branches, self.branch_alphas
                    ),
                    dtype=conv.weight.dtype,
                )
                for name, conv in self._convs.items()
            }
        elif self.method == "mi":
            maps = {
                name: torch.ones(conv.kernel_size, dtype=conv.weight.dtype)
                for name, conv in self._convs.items()
            }
        else:
            raise ValueError(f"method must be 'mi' or 'branch'; got {self.method!r}.")
        self._set_maps(maps, record=self.method == "branch")

    def _set_maps(self, maps, record):
        self._maps = {
            name: S.to(conv.weight.device, conv.weight.dtype)
            for name, S in maps.items()
            for conv in [self._convs[name]]
        }
        if record:
            snapshot = {n: S.cpu().numpy().copy() for n, S in self._maps.items()}
            self.history_.append({"epoch": self._epoch, "scalings": snapshot})

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if (
            self.method == "mi"
            and self._convs
            and dataset_train is not None
            and self._epoch % self.update_every == 0
        ):
            self._reestimate(net, dataset_train)
        self._epoch += 1

    def _reestimate(self, net, dataset):
        n = min(self.n_samples, len(dataset))
        idx = torch.randperm(len(dataset), generator=self._generator)[:n]
        loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(dataset, idx.tolist()), batch_size=n
        )
        Xi = next(iter(loader))[0]
        estimated = estimate_scalings(
            net.module_,
            to_device(Xi, net.device),
            self._convs,
            k=self.k,
            diag_removal=self.diag_removal,
        )
        # a map with NaNs keeps the previous one
        maps = {
            name: (S if not torch.isnan(S).any() else self._maps[name])
            for name, S in estimated.items()
        }
        self._set_maps(maps, record=True)

    def on_grad_computed(self, net, named_parameters, **kwargs):
        scale_conv_gradients(self._convs, self._maps)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.scalings_ = {n: S.cpu().numpy().copy() for n, S in self._maps.items()}
        # drop references to modules and device tensors so pickles stay device-free
        del self._convs, self._maps, self._generator
