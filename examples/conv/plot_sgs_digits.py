"""
==================================================
Spatial gradient scaling on low-data digit images
==================================================

:class:`~sklearn_suite.SGSConvClassifier` trains a conv net with spatial gradient
scaling (SGS): the weight gradient of every 3x3 conv is multiplied by a 3x3 map
with mean 1 before the optimizer step. Training a conv as a sum of branches
(3x3 + 1x3 + 3x1, as in ACB) is equivalent to one such map; SGS instead learns the
map from the mutual information between neighbouring pixels of each conv's input.
"""

# %%
# Data: scikit-learn's digits upsampled to 32x32, 500 training images.
import matplotlib.pyplot as plt
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_suite import SGSConvClassifier
from sklearn_suite.conv import branched_equivalent_scaling, plot_scalings
from sklearn_suite.datasets import load_digit_images

X, y = load_digit_images(size=32, return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=500, stratify=y, random_state=0
)

# %%
# The map a branch structure stands for
# -------------------------------------
# With unit coefficients, 3x3 + 1x3 + 3x1 branches give the centre three times
# the update of a corner; normalised to mean 1:
print(branched_equivalent_scaling((3, 3), ("square", "horizontal", "vertical")))

# %%
# Compare plain SGD, the fixed branch map and SGS with learned maps
# -----------------------------------------------------------------
# ``scaling`` is an ordinary hyperparameter, so a grid search compares the three.
search = GridSearchCV(
    SGSConvClassifier(max_epochs=10, random_state=0),
    {"scaling": [None, "branch", "mi"]},
    cv=3,
)
search.fit(X_train, y_train)
for scaling, score in zip(
    search.cv_results_["param_scaling"], search.cv_results_["mean_test_score"]
):
    print(f"scaling={scaling!s:6}  cross-validated accuracy {score:.3f}")
print(f"test accuracy of the best: {search.score(X_test, y_test):.3f}")

# %%
# The learned maps
# ----------------
# Maps are re-estimated every ``update_every`` epochs from ``n_batches`` training
# batches. They are centre-heavy, and late layers (small, abstract feature maps)
# weight the centre more than early ones.
clf = SGSConvClassifier(scaling="mi", max_epochs=10, random_state=0)
clf.fit(X_train, y_train)
plot_scalings(clf, title="learned SGS maps")
plt.show()

# %%
# How the map of the last conv changed over training:
last = list(clf.scalings_)[-1]
for entry in clf.scalings_history_:
    centre = entry["scalings"][last][1, 1]
    print(f"epoch {entry['epoch']:2d}: centre weight of {last} = {centre:.2f}")
