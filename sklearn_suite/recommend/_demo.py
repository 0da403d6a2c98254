"""The CAT-ART and RecGURU rows of ``sklearn-suite demo``."""

import copy
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from sklearn_suite.datasets import (
    make_cross_domain_interactions,
    make_cross_domain_sequences,
)
from sklearn_suite.recommend._base import per_domain_metrics
from sklearn_suite.recommend._catart import CATARTRecommender
from sklearn_suite.recommend._recguru import RecGURURecommender
from sklearn_suite.recommend._sasrec import SASRecRecommender


def run_demo(output_dir, *, quick=False, random_state=0, verbose=0):
    """Fit CAT-ART on five synthetic domains (dense to sparse, the last one
    unrelated) and compare per-domain NDCG@10 with single-domain BPR-MF (the same
    fitted MF, no transfer); save a bar chart."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    data = make_cross_domain_interactions(
        n_users=400 if quick else 3000, random_state=random_state
    )
    epochs = 3 if quick else 100
    model = CATARTRecommender(
        n_factors=32, batch_size=256, mf_epochs=epochs, cat_epochs=epochs,
        art_epochs=epochs, random_state=random_state, verbose=verbose,
    ).fit(data.train, X_valid=data.valid)  # fmt: skip
    mf = copy.deepcopy(model).set_params(knowledge="none")
    mf._fit_transfer(check_random_state(random_state))
    ours, base = (
        {d: m["ndcg"] for d, m in per_domain_metrics(est, data.test).items()}
        for est in (model, mf)
    )
    domains = sorted(ours)
    fig, ax = plt.subplots(figsize=(5, 3))
    x = np.arange(len(domains))
    ax.bar(x - 0.2, [base[d] for d in domains], 0.4, label="single-domain MF")
    ax.bar(x + 0.2, [ours[d] for d in domains], 0.4, label="CAT-ART")
    ax.set_xticks(
        x, [f"{d}\nrho={r}" for d, r in zip(domains, data.relatedness)], fontsize=7
    )
    ax.set_ylabel("NDCG@10")
    ax.set_title("Per-domain NDCG@10 (dense -> sparse; last unrelated)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(output_dir) / "catart_domains.png"
    fig.savefig(path, dpi=120)
    return {
        "method": "CATARTRecommender",
        "data": "5 synthetic domains, dense->sparse, one unrelated",
        "metric": "NDCG@10, mean over domains",
        "ours": float(np.mean(list(ours.values()))),
        "baseline": float(np.mean(list(base.values()))),
        "baseline_name": "single-domain BPR-MF",
        "pictures": [str(path)],
    }


def run_recguru_demo(output_dir, *, quick=False, random_state=0, verbose=0):
    """Fit RecGURU on a dense and a sparse domain with 10% user overlap and
    compare the sparse domain's HR@10 (199 uniform negatives) with a SASRec-style
    model fitted on the sparse domain alone; plot the discriminator's accuracy on
    held-out users' GURs during the adversarial phase."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n_users = (200, 150) if quick else (3000, 2000)
    data = make_cross_domain_sequences(
        n_users=n_users, overlap=0.1, random_state=random_state
    )
    steps = (
        dict(pretrain_steps=5, gan_steps=6, tune_steps=10)
        if quick
        else dict(pretrain_steps=100, gan_steps=150, tune_steps=300)
    )
    common = dict(
        d_model=32, n_blocks=2, d_ff=64, max_len=10 if quick else 20,
        batch_size=128, eval_every=2 if quick else 25, random_state=random_state,
        verbose=verbose,
    )  # fmt: skip
    model = RecGURURecommender(**common, **steps, lr_gan=1e-3, target_domain=1)
    model.fit(data.train, X_valid=data.valid)
    sparse = [frame[frame.domain == 1] for frame in (data.train, data.valid)]
    sasrec = SASRecRecommender(**common, n_steps=sum(steps.values()))
    sasrec.fit(sparse[0], X_valid=sparse[1])
    test = data.test[data.test.domain == 1]
    ours, base = model.score(test), sasrec.score(test)
    gan = model.history_["gan"]
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(gan["step"], gan["d_accuracy"], marker="o")
    ax.axhline(0.5, color="grey", linestyle=":", label="chance")
    ax.set_ylim(0.3, 1.05)
    ax.set_xlabel("generator step")
    ax.set_ylabel("accuracy on held-out GURs")
    ax.set_title("RecGURU discriminator", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(output_dir) / "recguru_discriminator.png"
    fig.savefig(path, dpi=120)
    return {
        "method": "RecGURURecommender",
        "data": "2 synthetic sequence domains, 10% user overlap",
        "metric": "sparse-domain HR@10, 199 uniform negatives",
        "ours": ours,
        "baseline": base,
        "baseline_name": "SASRec-style, sparse domain only",
        "pictures": [str(path)],
    }
