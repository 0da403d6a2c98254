"""
=================================================================
Aligning two domains' user representations adversarially: RecGURU
=================================================================

:class:`~sklearn_suite.RecGURURecommender` encodes each user's item sequence in
either of two domains with ONE shared Transformer encoder; a domain
discriminator learns to tell the domains apart from these generalised user
representations (GURs) while the encoder learns to fool it. Here a dense domain
(mean 30 items per user) helps a sparse one (mean 6 items) with 10% of the users
in both.
"""

# %%
# Two domains of timestamped sequences
# ------------------------------------
import matplotlib.pyplot as plt

from sklearn_suite.datasets import make_cross_domain_sequences
from sklearn_suite.recommend import RecGURURecommender, SASRecRecommender

data = make_cross_domain_sequences(n_users=(1500, 1000), overlap=0.1, random_state=0)
print(
    data.train.groupby("domain").agg(users=("user", "nunique"), rows=("item", "size"))
)

# %%
# Fit RecGURU with and without the adversary
# ------------------------------------------
# The discriminator trains in both fits; only ``adversarial=True`` puts its
# (label-flipped) loss into the encoder's objective.
params = dict(
    d_model=32, n_blocks=2, d_ff=64, max_len=20, batch_size=128, lr_gan=1e-3,
    pretrain_steps=60, gan_steps=100, tune_steps=150, eval_every=20,
    target_domain=1, random_state=0,
)  # fmt: skip
models = {
    flag: RecGURURecommender(**params, adversarial=flag).fit(
        data.train, X_valid=data.valid
    )
    for flag in (True, False)
}
fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
for flag, model in models.items():
    steps, accuracy = zip(*model.history_["gan"][:, ("step", "d_accuracy")])
    label = "RecGURU" if flag else "without the adversary"
    ax.plot(steps, accuracy, marker="o", label=label)
ax.axhline(0.5, color="grey", linestyle=":", label="chance (domains aligned)")
ax.set_ylim(0.3, 1.05)
ax.set_xlabel("adversarial training step")
ax.set_ylabel("discriminator accuracy\non held-out users")
ax.set_title(
    "Can a discriminator tell the domains apart from the user representations?",
    fontsize=9,
)
ax.legend(fontsize=8)

# %%
# Sparse-domain HR@10 against a single-domain SASRec-style model
# --------------------------------------------------------------
# Each test item is ranked against 199 items the user never interacted with.
sparse = [frame[frame.domain == 1] for frame in (data.train, data.valid, data.test)]
sasrec = SASRecRecommender(
    d_model=32, n_blocks=2, d_ff=64, max_len=20, batch_size=128, n_steps=310,
    random_state=0,
).fit(sparse[0], X_valid=sparse[1])  # fmt: skip
for name, model in [("SASRec", sasrec), ("RecGURU", models[True])]:
    for sampling in ("uniform", "popularity"):
        hr = model.score(sparse[2], sampling=sampling)
        print(f"{name:8s} {sampling:10s} HR@10 {hr:.3f}")

# %%
# Recommendations and user representations
# ----------------------------------------
print(models[True].recommend([0, 1], domain=1, k=5))
print(models[True].transform([0, 1], domain=1).shape)
