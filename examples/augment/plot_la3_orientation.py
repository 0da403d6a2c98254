"""
===================================================
Label-aware augmentation on shapes and orientations
===================================================

:class:`~sklearn_suite.LabelAwareAugmenter` searches a separate augmentation
policy for every label (LA3). On :func:`~sklearn_suite.datasets.make_orientation_shapes`
some labels are rotation-invariant shapes while others *are* orientations, so a
rotation can turn one bar label into another: a label-aware policy should rotate
shapes and leave bars alone.
"""

# %%
# Data and a policy search
# ------------------------
import matplotlib.pyplot as plt
from imblearn.pipeline import Pipeline
from sklearn.model_selection import train_test_split

from sklearn_suite import LabelAwareAugmenter, SGSConvClassifier
from sklearn_suite.augment import plot_policy, policy_op_frequency
from sklearn_suite.datasets import make_orientation_shapes

X, y = make_orientation_shapes(700, size=24, random_state=0, return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
search = dict(proxy_max_epochs=10, n_init=10, n_rounds=30, top_k=20, random_state=0)
augmenter = LabelAwareAugmenter(**search).fit(X_train, y_train)
print(augmenter.search_history_.head())

# %%
# The policy: op share per label
# ------------------------------
plot_policy(augmenter, title="LA3 policy")
plt.show()
print(policy_op_frequency(augmenter.policy_)["Rotate"].round(3))

# %%
# Training with the policy
# ------------------------
# Passed to the classifier, the augmenter draws fresh augmentations for every
# batch of every epoch, and the whole thing is one estimator for ``GridSearchCV``.
clf = SGSConvClassifier(
    scaling=None, max_epochs=15, random_state=0, augmenter=LabelAwareAugmenter(**search)
)
clf.fit(X_train, y_train)
print(f"with LA3 (per-epoch augmentation): {clf.score(X_test, y_test):.3f}")

# %%
# As an imbalanced-learn sampler, the augmenter adds ``n_augment`` augmented copies
# once, at fit time (a weaker approximation of per-epoch augmentation).
pipe = Pipeline(
    [
        ("augment", LabelAwareAugmenter(n_augment=1, **search)),
        ("clf", SGSConvClassifier(scaling=None, max_epochs=15, random_state=0)),
    ]
)
pipe.fit(X_train, y_train)
print(f"with one augmented copy per image:  {pipe.score(X_test, y_test):.3f}")
