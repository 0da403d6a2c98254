"""The CAT-ART and RecGURU rows of ``sklearn-suite demo``."""

import copy
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from sklearn_suite.datasets import (
    make_cross_domain_interactions,
    make_cross_domain_sequences,
)
from sklearn_suite.recommend._catart import CATARTRecommender
from sklearn_suite.recommend._protocols import per_domain_metrics
from sklearn_suite.recommend._recguru import RecGURURecommender
from sklearn_suite.recommend._sasrec import SASRecRecommender

# users, epochs of every stage (early stopping on the validation split)
CATART_SETTINGS = {
    "quick": dict(n_users=400, epochs=5),
    "default": dict(n_users=3000, epochs=100),
    "full": dict(n_users=6000, epochs=200),
}
# users of the dense and the sparse domain, steps of the three phases, history
RECGURU_SETTINGS = {
    "quick": dict(n_users=(600, 400), steps=(30, 30, 60), max_len=10, eval_every=10),
    "default": dict(n_users=(3000, 2000), steps=(100, 150, 300), max_len=20,
                    eval_every=25),
    "full": dict(n_users=(3000, 2000), steps=(200, 500, 500), max_len=50,
                 eval_every=50),
}  # fmt: skip


def run_demo(output_dir, *, preset="default", random_state=0, verbose=0):
    """Fit CAT-ART on five synthetic domains (dense to sparse, the last one
    unrelated) and compare per-domain NDCG@10 with single-domain BPR-MF (the same
    fitted MF, no transfer); save a bar chart."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    config = CATART_SETTINGS[preset]
    data = make_cross_domain_interactions(
        n_users=config["n_users"], random_state=random_state
    )
    epochs = config["epochs"]
    model = CATARTRecommender(
        n_factors=32, batch_size=256, mf_max_epochs=epochs, cat_max_epochs=epochs,
        art_max_epochs=epochs, random_state=random_state, verbose=verbose,
    ).fit(data.train, X_valid=data.valid)  # fmt: skip
    mf = copy.deepcopy(model).set_params(knowledge="none")
    mf._fit_transfer(check_random_state(random_state))
    ours, base = (
        {d: m["ndcg"] for d, m in per_domain_metrics(est, data.test).items()}
        for est in (model, mf)
    )
    domains = sorted(ours)
    fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
    x = np.arange(len(domains))
    ax.bar(x - 0.2, [base[d] for d in domains], 0.4, label="single-domain MF")
    ax.bar(x + 0.2, [ours[d] for d in domains], 0.4, label="CAT-ART")
    ax.set_xticks(
        x,
        [f"domain {d}\nrelated {r:.1f}" for d, r in zip(domains, data.relatedness)],
        fontsize=7,
    )
    ax.set_xlabel("domains from dense to sparse (relatedness to the others; 0 = none)")
    ax.set_ylabel("NDCG@10 of held-out items")
    ax.set_title(
        "CAT-ART: does knowledge from other domains help each one?\n"
        "(ranking quality of each user's held-out items; higher is better)",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    path = Path(output_dir) / "catart_domains.png"
    fig.savefig(path, dpi=120)
    return {
        "method": "CATARTRecommender",
        "data": "5 synthetic domains, dense->sparse, one unrelated",
        "metric": "NDCG@10, mean over domains",
        "ours": float(np.mean(list(ours.values()))),
        "baseline": float(np.mean(list(base.values()))),
        "baseline_name": "single-domain BPR-MF",
        "note": "the naive Linear(concat all domains) baseline is still best on "
        "every domain (benchmarks/results/catart.md)",
        "pictures": [str(path)],
    }


def run_recguru_demo(output_dir, *, preset="default", random_state=0, verbose=0):
    """Fit RecGURU on a dense and a sparse domain with 10% user overlap and
    compare the sparse domain's HR@10 (199 uniform negatives) with a SASRec-style
    model fitted on the sparse domain alone; plot the discriminator's accuracy on
    held-out users' GURs during the adversarial phase."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    config = RECGURU_SETTINGS[preset]
    data = make_cross_domain_sequences(
        n_users=config["n_users"], overlap=0.1, random_state=random_state
    )
    steps = dict(zip(("pretrain_steps", "gan_steps", "tune_steps"), config["steps"]))
    common = dict(
        d_model=32, n_blocks=2, d_ff=64, max_len=config["max_len"],
        batch_size=128, eval_every=config["eval_every"], random_state=random_state,
        verbose=verbose,
    )  # fmt: skip
    model = RecGURURecommender(**common, **steps, lr_gan=1e-3, target_domain=1)
    model.fit(data.train, X_valid=data.valid)
    sparse = [frame[frame.domain == 1] for frame in (data.train, data.valid)]
    sasrec = SASRecRecommender(**common, n_steps=sum(steps.values()))
    sasrec.fit(sparse[0], X_valid=sparse[1])
    test = data.test[data.test.domain == 1]
    ours, base = model.score(test), sasrec.score(test)
    steps, accuracy = zip(*model.history_["gan"][:, ("step", "d_accuracy")])
    fig, ax = plt.subplots(figsize=(5, 3.4), layout="constrained")
    ax.plot(steps, accuracy, marker="o", label="RecGURU")
    ax.axhline(0.5, color="grey", linestyle=":", label="chance (domains aligned)")
    ax.set_ylim(0.3, 1.05)
    ax.set_xlabel("adversarial training step")
    ax.set_ylabel("discriminator accuracy\n(held-out users)")
    ax.set_title(
        "Can a discriminator tell which domain a user representation\n"
        "comes from? Falling toward 0.5 = the domains are aligned",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    path = Path(output_dir) / "recguru_discriminator.png"
    fig.savefig(path, dpi=120)
    return {
        "method": "RecGURURecommender",
        "data": "2 synthetic sequence domains, 10% user overlap",
        "metric": "sparse-domain HR@10, 199 uniform negatives",
        "ours": ours,
        "baseline": base,
        "baseline_name": "SASRec-style, sparse domain only",
        "note": "RecGURU ties its own single-domain autoencoder over 5 seeds "
        "(benchmarks/results/recguru.md)",
        "pictures": [str(path)],
    }
