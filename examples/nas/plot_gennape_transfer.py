"""
=====================================================
Predicting CNN accuracy across families with GENNAPE
=====================================================

:class:`~sklearn_suite.GENNAPERegressor` reads any ``nn.Module`` as a computation
graph of primitive operations, so a predictor fitted on one family of networks can
score networks of another family. Here it is fitted on NAS-Bench-201-style cells
trained on digits and asked to rank ResNets it has never seen, first zero-shot and
then after fine-tuning on 20 labelled ResNets.
"""

# %%
# The micro NAS benchmark ships with the library
# ----------------------------------------------
import numpy as np

from sklearn_suite import GENNAPERegressor
from sklearn_suite.datasets import load_digits_nas
from sklearn_suite.metrics import spearman_score
from sklearn_suite.nas import graph_summary, plot_predicted_vs_true, to_graph

data = load_digits_nas()
print(data.frame.groupby("family")["accuracy"].describe()[["count", "mean", "std"]])

# %%
# Every network becomes a computation graph
# -----------------------------------------
# Nodes are primitive ops with their input/output resolution; convs and linear
# layers also carry kernel size and bias.
graphs = [to_graph(data.build(spec), data.input_shape) for spec in data.specs]
print(graph_summary(graphs[0])[:6])

# %%
# Fit on one family, rank another zero-shot
# -----------------------------------------
source = data.family == "cell201"
target = np.flatnonzero(data.family == "resnet")
model = GENNAPERegressor(n_clusters=4, cl_max_epochs=20, max_epochs=60, random_state=0)
model.fit([g for g, s in zip(graphs, source) if s], data.target[source])
X_target, y_target = [graphs[i] for i in target], data.target[target]
zero_shot = model.predict(X_target)
flops = data.frame["flops"].to_numpy()[target]
print("zero-shot Spearman", round(spearman_score(y_target, zero_shot), 3))
print("FLOPs Spearman    ", round(spearman_score(y_target, flops), 3))

# %%
# Fine-tune a copy on 20 labelled ResNets
# ---------------------------------------
rng = np.random.default_rng(0)
order = rng.permutation(len(target))
shots, rest = order[:20], order[20:]
tuned = model.fine_tune([X_target[i] for i in shots], y_target[shots])
pred = tuned.predict([X_target[i] for i in rest])
print("after 20-shot fine-tuning", round(spearman_score(y_target[rest], pred), 3))
fig = plot_predicted_vs_true(
    y_target[rest],
    pred,
    groups=["ResNets"] * len(rest),
    title="GENNAPE on an unseen family after 20 labelled networks",
    metric="test accuracy (%)",
)

# %%
# Soft cluster memberships of the unseen family
# ---------------------------------------------
print(model.predict_membership(X_target[:5]).round(2))
