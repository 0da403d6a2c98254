"""
==================================================
Learning kinship rules from short stories with R5
==================================================

:class:`~sklearn_suite.R5RuleLearner` reads a story as a graph of relations and
answers a query by merging adjacent relations with rules it learned itself.
Here it learns from stories of 2 and 3 edges and answers stories of up to 6
edges, abstaining where its rules do not reach an answer.
"""

# %%
# Stories and queries
# -------------------
import matplotlib.pyplot as plt

from sklearn_suite.datasets import make_kinship_stories
from sklearn_suite.reasoning import PathLSTMClassifier, R5RuleLearner

train = make_kinship_stories(k=(2, 3), n=300, random_state=0)
print(train.X[0], "->", train.y[0])

# %%
# Learn rules
# -----------
r5 = R5RuleLearner(n_invented=9, n_playouts=30, max_epochs=2, random_state=0)
r5.fit(train.X, train.y)
history = r5.history_["self_play"]
print(history[:, ("epoch", "train_accuracy", "n_rules", "valid_accuracy")])
rules = r5.rules_.sort_values("score", ascending=False)
print(rules.head(10))

# %%
# How many of the generator's rules were found?
learned = set(map(tuple, r5.rules_[["body1", "body2", "head"]].to_numpy()))
truth = set(map(tuple, train.rules.to_numpy()))
print(f"rule recall {len(learned & truth) / len(truth):.2f}")

# %%
# Longer stories, and the reasoning behind one answer
# ---------------------------------------------------
lstm = PathLSTMClassifier(random_state=0).fit(train.X, train.y)
ks = [2, 3, 4, 5, 6]
tests = {k: make_kinship_stories(k=k, n=60, random_state=10 + k) for k in ks}
fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
ax.plot(
    ks,
    [r5.score(t.X, t.y) for t in tests.values()],
    marker="o",
    label="R5 (abstaining = wrong)",
)
ax.plot(
    ks,
    [lstm.score(t.X, t.y) for t in tests.values()],
    marker="s",
    label="LSTM over the relation path",
)
ax.axvspan(1.8, 3.2, color="grey", alpha=0.15, label="lengths seen in training")
ax.set_xticks(ks)
ax.set_xlabel("relations in the story's chain")
ax.set_ylabel("accuracy on held-out stories")
ax.set_title(
    "Generalising to longer stories (rules learned = stays near 1)", fontsize=9
)
ax.legend(fontsize=8)

story = tests[5].X[0]
print(story["edges"], "->", r5.predict([story])[0], "(truth:", tests[5].y[0], ")")
for body1, body2, head in r5.explain([story])[0]:
    print(f"  {body1} + {body2} -> {head}")
