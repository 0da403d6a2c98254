"""
==========================================================
Transferring a performance predictor to a new task: AIO-P
==========================================================

:class:`~sklearn_suite.AIOPRegressor` is pretrained on one task's labels
(classification accuracy), infused with a second task through a K-Adapter
trained on cheap pseudo-labels, and then asked about a third task it has never
seen -- ink keypoint localisation -- on network families it has never seen,
after fine-tuning on 20 labelled networks.
"""

# %%
# One backbone, three tasks
# -------------------------
# Every network of the multi-task table was trained on digit classification, then
# fine-tuned with a fresh head on ink segmentation (mIoU) and on ink keypoints
# (PCK). ``seg_miou_pseudo`` is the cheap label: one segmentation head shared by
# 100 frozen backbones, adapted briefly to each.
import numpy as np

from sklearn_suite import AIOPRegressor, GENNAPERegressor
from sklearn_suite.datasets import load_digits_multitask
from sklearn_suite.metrics import spearman_score
from sklearn_suite.nas import plot_predicted_vs_true, to_graphs

data = load_digits_multitask()
frame = data.frame
print(frame.groupby("family")[["accuracy", "seg_miou", "kp_pck"]].median())

graphs = to_graphs([data.build(s) for s in data.specs], data.input_shape)
source = np.flatnonzero(frame.family.isin(["cell201", "mbconv"]))
target = np.flatnonzero(frame.family == "resnet")


def pick(rows):
    return [graphs[i] for i in rows]


# %%
# Pretrain on accuracy, infuse segmentation pseudo-labels
# -------------------------------------------------------
# ``infuse`` freezes the base and trains a parallel GNN whose every layer reads
# the base's layer output. ``groups`` names each network's family: the heads'
# graph-level features (log FLOPs, log parameters, depth, width) are standardised
# within it, and both families weigh the same.
model = AIOPRegressor(max_epochs=40, adapter_max_epochs=40, random_state=0)
families = frame.family.to_numpy()[source]
model.fit(pick(source), frame.accuracy.to_numpy()[source], groups=families)
model.infuse(
    pick(source), frame.seg_miou_pseudo.to_numpy()[source], task="seg", groups=families
)

# %%
# Fine-tune on 20 ResNets' keypoint scores, rank the other 80
# -----------------------------------------------------------
# ``fine_tune`` returns a copy; its target statistics come from the 20 networks
# only, and predictions come back in PCK points.
rng = np.random.default_rng(0)
rows = rng.permutation(target)
few, rest = rows[:20], rows[20:]
y = frame.kp_pck.to_numpy()
tuned = model.fine_tune(pick(few), y[few])
pred = tuned.predict(pick(rest))

plain = GENNAPERegressor(n_clusters=1, cl_max_epochs=0, max_epochs=40, random_state=0)
plain.fit(pick(source), frame.accuracy.to_numpy()[source])
plain_pred = plain.fine_tune(pick(few), y[few], train_encoder=True).predict(pick(rest))
print(
    f"Spearman AIO-P {spearman_score(y[rest], pred):.2f}, plain CG predictor "
    f"{spearman_score(y[rest], plain_pred):.2f}, FLOPs "
    f"{spearman_score(y[rest], frame.flops.to_numpy()[rest]):.2f}; "
    f"MAE AIO-P {np.abs(y[rest] - pred).mean():.2f} PCK points"
)
plot_predicted_vs_true(
    y[rest], pred, title="AIO-P, keypoints on ResNets (20-shot)", metric="PCK (%)"
)
