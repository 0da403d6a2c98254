"""Faithfulness of spatial gradient scaling: the equivalence lemma, the all-ones
identity and the mutual-information estimator."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sklearn_suite.conv import (
    ACBConv2d,
    SGSConvClassifier,
    SmallResNet,
    SmallVGG,
    branched_equivalent_scaling,
    dependence_to_scaling,
    estimate_scalings,
    merge_branches,
    nmi_dependence,
    scalable_convs,
    scale_conv_gradients,
)

ACB = ("square", "horizontal", "vertical")


def _train_pair(alphas, weight_decay=0.0, S=None, n_steps=25, lr=0.05):
    """Train a branched conv and its merged twin with SGS; return the max |dW|."""
    torch.manual_seed(0)
    branched = ACBConv2d(3, 4, branches=ACB, alphas=alphas, bn=False).double()
    merged = branched.merged().double()
    if S is None:
        S = branched_equivalent_scaling((3, 3), ACB, alphas, normalize=False)
    S = torch.as_tensor(S)
    opt_b = torch.optim.SGD(
        branched.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
    )
    opt_m = torch.optim.SGD(
        merged.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
    )
    gen = torch.Generator().manual_seed(1)
    for _ in range(n_steps):
        x = torch.randn(8, 3, 6, 6, generator=gen, dtype=torch.float64)
        target = torch.randn(8, 4, 6, 6, generator=gen, dtype=torch.float64)
        for model, opt in ((branched, opt_b), (merged, opt_m)):
            opt.zero_grad()
            F.mse_loss(torch.tanh(model(x)), target).backward()
            if model is merged:
                scale_conv_gradients({"conv": merged}, {"conv": S})
            opt.step()
    return (branched.merged().weight - merged.weight).abs().max().item()


def test_branched_conv_matches_sgs_with_lemma_map():
    # S = sum_b alpha_b^2 M_b on the merged kernel, SGD with momentum, no decay
    assert _train_pair(alphas=(0.7, 1.3, 0.5)) < 1e-5


def test_equivalence_needs_the_lemma_map():
    # negative controls: plain SGD (S = 1) or an un-squared alpha map diverge
    alphas = (0.7, 1.3, 0.5)
    assert _train_pair(alphas, S=np.ones((3, 3))) > 1e-3
    square, horizontal, vertical = np.ones((3, 3)), np.zeros((3, 3)), np.zeros((3, 3))
    horizontal[1, :] = vertical[:, 1] = 1
    linear = sum(a * m for a, m in zip(alphas, (square, horizontal, vertical)))
    assert _train_pair(alphas, S=linear) > 1e-3


def test_coupled_weight_decay_keeps_the_equivalence():
    # L2 decay inside SGD is linear in the weights, so it merges like the gradient
    assert _train_pair(alphas=(0.7, 1.3, 0.5), weight_decay=0.05) < 1e-5


def test_lemma_map_values():
    raw = branched_equivalent_scaling((3, 3), ACB, normalize=False)
    np.testing.assert_array_equal(raw, [[1, 2, 1], [2, 3, 2], [1, 2, 1]])
    S = branched_equivalent_scaling((3, 3), ACB, alphas=(2.0, 1.0, 1.0))
    assert S.mean() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="uncovered"):
        branched_equivalent_scaling((3, 3), ("horizontal",))
    with pytest.raises(ValueError, match="Unknown branch"):
        branched_equivalent_scaling((3, 3), ("diagonal",))


class MergedVGG(nn.Module):
    """The BN-free branched SmallVGG, merged at initialisation (matched init)."""

    def __init__(self, in_channels, n_classes, widths, branch_alphas):
        super().__init__()
        branched = SmallVGG(
            in_channels,
            n_classes,
            widths=widths,
            branches=ACB,
            branch_alphas=branch_alphas,
            branch_bn=False,
        )
        self.net = merge_branches(branched)

    def forward(self, x):
        return self.net(x)


def test_estimator_branch_scaling_matches_branched_network(digits16):
    X, y = digits16
    X, y = X[:128], y[:128]
    # alphas with mean(sum a^2 M) == 1, so the normalised map equals the raw one
    a = float(np.sqrt(9 / 15))
    common = dict(
        widths=(4, 8),
        max_epochs=6,  # 6 epochs x 4 batches = 24 SGD steps
        batch_size=32,
        lr=0.02,
        momentum=0.9,
        weight_decay=0.0,
        lr_schedule=None,
        random_state=0,
    )
    branched = SGSConvClassifier(
        module="vgg",
        module_params=dict(branches=ACB, branch_alphas=(a, a, a), branch_bn=False),
        scaling=None,
        **common,
    ).fit(X, y)
    sgs = SGSConvClassifier(
        module=MergedVGG,
        module_params=dict(widths=(4, 8), branch_alphas=(a, a, a)),
        scaling="branch",
        branch_alphas=(a, a, a),
        **common,
    ).fit(X, y)
    merged = merge_branches(branched.net_.module_).state_dict()
    trained = sgs.net_.module_.net.state_dict()
    assert merged.keys() == trained.keys()
    diff = max((merged[k].float() - trained[k].float()).abs().max() for k in merged)
    assert diff < 1e-5
    # and training actually moved the weights
    assert (
        trained["features.0.weight"]
        - MergedVGG(1, 10, (4, 8), (a,) * 3).net.state_dict()["features.0.weight"]
    ).abs().max() > 1e-3


def test_all_ones_map_reproduces_baseline_bit_for_bit(digits16):
    X, y = digits16
    kw = dict(widths=(4, 8), max_epochs=3, batch_size=32, random_state=3)
    base = SGSConvClassifier(scaling=None, **kw).fit(X[:96], y[:96])
    ones = SGSConvClassifier(scaling="branch", branches=("square",), **kw).fit(
        X[:96], y[:96]
    )
    assert all(np.all(S == 1) for S in ones.scalings_.values())
    for (name, p), q in zip(
        base.net_.module_.state_dict().items(), ones.net_.module_.state_dict().values()
    ):
        assert torch.equal(p, q), name
    np.testing.assert_array_equal(base.predict_proba(X), ones.predict_proba(X))


def test_independent_pixels_give_flat_off_centre_map():
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(64, 4, 16, 16, generator=gen)
    D = nmi_dependence(noise, (3, 3))
    assert D[1, 1] == 1
    ring = D[~_centre()]
    assert ring.max() < 0.02  # only the finite-sample bias of the histogram
    assert ring.std() / ring.mean() < 0.15
    S = dependence_to_scaling(D)
    assert S.mean().item() == pytest.approx(1.0)


def _centre():
    m = torch.zeros(3, 3, dtype=bool)
    m[1, 1] = True
    return m


def test_dependent_neighbours_give_expected_shape():
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(64, 2, 16, 20, generator=gen)
    smooth = (noise[..., :-2] + noise[..., 1:-1] + noise[..., 2:]) / 3  # along rows
    D = nmi_dependence(smooth, (3, 3))
    horizontal, vertical = D[1, 0], D[0, 1]
    assert D[1, 0] == D[1, 2] and D[0, 1] == D[2, 1]  # mirrored pairs
    assert horizontal > 0.2 and vertical < 0.02 and D[0, 0] < 0.02
    # identical neighbours (constant along rows) are fully dependent: f_k(1) = 1
    rows = noise[..., :1].expand(-1, -1, -1, 10)
    assert nmi_dependence(rows, (3, 3))[1, 0].item() == pytest.approx(1.0)


def test_k_transform_and_constant_channels():
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(32, 1, 12, 12, generator=gen)
    smooth = (noise[..., :-1] + noise[..., 1:]) / 2
    d1 = nmi_dependence(smooth, (3, 3), k=1)[1, 2].item()  # k=1: plain NMI
    d5 = nmi_dependence(smooth, (3, 3), k=5)[1, 2].item()
    assert d5 == pytest.approx(5 * d1 / (4 * d1 + 1))
    # a constant channel has no entropy: ignored by the channel nanmean
    both = torch.cat([smooth, torch.zeros_like(smooth)], dim=1)
    torch.testing.assert_close(
        nmi_dependence(both, (3, 3)), nmi_dependence(smooth, (3, 3))
    )
    assert torch.isnan(nmi_dependence(torch.zeros(4, 2, 5, 5), (3, 3))[0, 0])


def test_estimation_uses_padded_input_in_eval_mode_without_grad():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3))
    x = torch.rand(16, 2, 8, 8)
    running_mean = model[1].running_mean.clone()
    seen = {}
    model[0].register_forward_hook(
        lambda m, a, out: seen.update(grad=torch.is_grad_enabled(), train=m.training)
    )
    maps = estimate_scalings(model, x)
    expected = dependence_to_scaling(nmi_dependence(F.pad(x, (1, 1, 1, 1)), (3, 3)))
    torch.testing.assert_close(maps["0"], expected)
    assert seen == {"grad": False, "train": False}
    assert model.training  # mode restored
    torch.testing.assert_close(model[1].running_mean, running_mean)  # BN untouched


def test_one_by_one_convs_are_never_scaled_and_residual_convs_are():
    net = SmallResNet(1, 3, widths=(4, 8))
    names = set(scalable_convs(net))
    one_by_one = {
        n
        for n, m in net.named_modules()
        if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
    }
    assert one_by_one and not names & one_by_one
    assert {"blocks.0.conv1", "blocks.0.conv2", "blocks.1.conv1"} <= names


def test_sgs_step_leaves_one_by_one_and_linear_updates_alone(digits16):
    X, y = digits16
    kw = dict(
        module="resnet", widths=(4, 8), max_epochs=1, batch_size=64, random_state=0
    )
    base = SGSConvClassifier(scaling=None, **kw).fit(X[:64], y[:64])  # one step
    sgs = SGSConvClassifier(scaling="branch", **kw).fit(X[:64], y[:64])
    pb, ps = base.net_.module_.state_dict(), sgs.net_.module_.state_dict()
    for name in ("blocks.1.shortcut.0.weight", "head.2.weight", "stem.1.weight"):
        assert torch.equal(pb[name], ps[name]), name
    assert not torch.equal(pb["stem.0.weight"], ps["stem.0.weight"])


def test_mi_maps_are_reestimated_periodically_and_keep_mean_one(digits16):
    X, y = digits16
    clf = SGSConvClassifier(
        widths=(4, 8),
        max_epochs=5,
        update_every=2,
        n_batches=1,
        batch_size=64,
        random_state=0,
    )
    clf.fit(X[:128], y[:128])
    assert [h["epoch"] for h in clf.scalings_history_] == [0, 2, 4]
    assert set(clf.scalings_) == set(scalable_convs(clf.net_.module_))
    for S in clf.scalings_.values():
        assert S.shape == (3, 3) and S.mean() == pytest.approx(1.0, abs=1e-5)
        assert S[1, 1] == S.max()  # the centre depends on itself most
    first, last = clf.scalings_history_[0]["scalings"], clf.scalings_
    assert any(not np.allclose(first[n], last[n]) for n in last)


def test_nan_map_keeps_previous_one():
    # all-zero images: every conv input is constant, so every NMI is NaN
    X = np.zeros((40, 1, 6, 6), dtype=np.float32)
    y = np.arange(40) % 2
    clf = SGSConvClassifier(
        widths=(4,), max_epochs=2, update_every=1, random_state=0
    ).fit(X, y)
    assert len(clf.scalings_history_) == 2
    for S in clf.scalings_.values():
        np.testing.assert_array_equal(S, np.ones((3, 3)))


def test_forward_and_parameters_unchanged(digits16):
    X, y = digits16
    kw = dict(widths=(4, 8), max_epochs=1, random_state=0)
    plain = SGSConvClassifier(scaling=None, **kw).fit(X[:64], y[:64])
    sgs = SGSConvClassifier(scaling="mi", **kw).fit(X[:64], y[:64])
    assert (
        plain.net_.module_.state_dict().keys() == sgs.net_.module_.state_dict().keys()
    )
