"""Spatial gradient scaling (SGS) for conv nets: :class:`SGSConvClassifier`."""

from sklearn_suite.conv._modules import ACBConv2d, SmallResNet, SmallVGG, merge_branches
from sklearn_suite.conv._plot import plot_scalings
from sklearn_suite.conv._scaling import (
    SpatialGradientScaling,
    branched_equivalent_scaling,
    dependence_to_scaling,
    estimate_scalings,
    nmi_dependence,
    scalable_convs,
    scale_conv_gradients,
)
from sklearn_suite.conv._sgs import SGSConvClassifier

__all__ = [
    "ACBConv2d",
    "SGSConvClassifier",
    "SmallResNet",
    "SmallVGG",
    "SpatialGradientScaling",
    "branched_equivalent_scaling",
    "dependence_to_scaling",
    "estimate_scalings",
    "merge_branches",
    "nmi_dependence",
    "plot_scalings",
    "scalable_convs",
    "scale_conv_gradients",
]
