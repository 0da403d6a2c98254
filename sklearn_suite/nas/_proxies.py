"""Zero-cost baselines computed on the same networks: size, synflow and jacov."""

import copy

import numpy as np
import torch

from sklearn_suite.base import check_seed, torch_seeded


def count_params(module):
    """Number of trainable parameters of ``module``."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def synflow_score(module, input_shape):
    """SynFlow (Tanaka et al. 2020) as used for zero-cost NAS (Abdelfattah et al. 2021).

    Every parameter is replaced by its absolute value, an all-ones input is passed
    through the network in float64 and eval mode (batchnorm uses its initial
    running statistics, so it is a fixed affine map), and the score is
    ``sum |theta * dR/dtheta|`` with ``R`` the sum of the outputs.

    Parameters
    ----------
    module : torch.nn.Module
        The network; it is copied, never modified.
    input_shape : tuple of int
        ``(C, H, W)`` of one input.

    Returns
    -------
    score : float
        ``log10`` of the synflow sum (the raw value overflows float32 quickly).
    """
    net = copy.deepcopy(module).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    out = net(torch.ones((1, *input_shape), dtype=torch.float64))
    out.sum().backward()
    total = sum(
        (p * p.grad).abs().sum().item() for p in net.parameters() if p.grad is not None
    )
    return float(np.log10(total)) if total > 0 else -np.inf


def jacov_score(module, X, random_state=None):
    """Jacobian covariance (Mellor et al. 2021, NASWOT v1) on a minibatch of real data.

    Input gradients ``J_i = d sum(f(x_i)) / d x_i`` of an untrained network are
    flattened, their correlation matrix is formed, and the score is
    ``-sum(log(v + k) + 1 / (v + k))`` over its eigenvalues ``v`` with
    ``k = 1e-5``. Higher means less correlated Jacobians.

    Parameters
    ----------
    module : torch.nn.Module
        The network, in train mode as at initialisation; it is copied.
    X : torch.Tensor of shape (n, C, H, W)
        A minibatch of real inputs.
    random_state : int, RandomState or None
        Seeds the copy's re-initialisation-free forward (dropout, if any).

    Returns
    -------
    score : float
    """
    net = copy.deepcopy(module).float().train()
    x = torch.as_tensor(X, dtype=torch.float32).clone().requires_grad_(True)
    with torch_seeded(check_seed(random_state)):
        net(x).sum().backward()
    jac = x.grad.reshape(len(x), -1).double().numpy()
    corr = np.corrcoef(jac)
    corr = np.nan_to_num(corr, nan=0.0)
    eig = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(np.abs(eig) + k) + 1.0 / (np.abs(eig) + k)))
