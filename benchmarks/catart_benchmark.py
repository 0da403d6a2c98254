"""CAT-ART benchmark: per-domain quality against baselines, and scale.

Quality (``--parts quality``): ``make_cross_domain_interactions`` (3,000 users, 5
domains from dense to sparse, relatedness 0.8/0.8/0.6/0.4/0.0 -- the last domain is
unrelated), per-domain Recall@10 and NDCG@10 under full ranking with seen items
excluded, 5 seeds. Arms: popularity; single-domain BPR-MF (``knowledge="none"``);
the concatenation baselines target + Linear(concat sources) and Linear(concat
all); ART without CAT (attention transfer only, ``"d_sp"``); global only
(``"d_in"``); CAT-ART (``"both"``); CAT-ART with a reconstruction-only CAT. The
knowledge arms reuse one fitted MF + CAT per seed and retrain only ART.

Baselines (``--parts baselines``): PureSVD per domain and joint PureSVD over all
domains' items (scikit-learn's TruncatedSVD; each domain's rank chosen on its
validation items) on the same seeds' data, fit on training + validation items.

Scale (``--parts scale``): 100,000 users x 5 domains, fit time and peak memory,
then top-10 recommendations for every user of the densest domain.

    python benchmarks/catart_benchmark.py --parts quality --seeds 0,1,2 --tag a &
    python benchmarks/catart_benchmark.py --parts quality --seeds 3,4 --tag b
    python benchmarks/catart_benchmark.py --parts scale
    python benchmarks/catart_benchmark.py --parts baselines
    python benchmarks/catart_benchmark.py --summarise

Writes benchmarks/results/catart.json and catart.md.
"""

import argparse
import copy
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import summarise, tuned_puresvd, with_stored_scale
from sklearn.utils import check_random_state

from sklearn_suite.datasets import make_cross_domain_interactions
from sklearn_suite.recommend import (
    CATARTRecommender,
    PopularityRecommender,
    per_domain_metrics,
)

RESULTS = Path(__file__).parent / "results"
PARAMS = {}  # the estimator's defaults
KNOWLEDGE_ARMS = {
    "mf": "none",
    "concat_target": "concat_target",
    "concat_all": "concat_all",
    "art_without_cat": "d_sp",
    "global_only": "d_in",
}


def evaluate(model, test, k=10):
    return {
        str(domain): {"recall10": m["recall"], "ndcg10": m["ndcg"]}
        for domain, m in per_domain_metrics(model, test, k).items()
    }


def run_seed(seed):
    data = make_cross_domain_interactions(n_users=3000, random_state=seed)
    res = {"popularity": evaluate(PopularityRecommender().fit(data.train), data.test)}
    t0 = time.perf_counter()
    full = CATARTRecommender(**PARAMS, random_state=seed)
    full.fit(data.train, X_valid=data.valid)
    res["catart"] = evaluate(full, data.test)
    res["catart"]["seconds"] = time.perf_counter() - t0
    for arm, knowledge in KNOWLEDGE_ARMS.items():
        model = copy.deepcopy(full).set_params(knowledge=knowledge)
        model._fit_transfer(check_random_state(seed))
        res[arm] = evaluate(model, data.test)
    rec_only = CATARTRecommender(**PARAMS, loss_weights=(0, 1, 0), random_state=seed)
    res["catart_rec_only_cat"] = evaluate(
        rec_only.fit(data.train, X_valid=data.valid), data.test
    )
    # does CAT's contrastive loss make the global embedding more linear in g_u?
    res["probe_r2"] = {
        "catart": probe(full, data.global_factors),
        "rec_only_cat": probe(rec_only, data.global_factors),
    }
    print(
        f"seed {seed}: "
        + " ".join(
            f"{arm} {np.mean([v['ndcg10'] for k, v in r.items() if k.isdigit()]):.4f}"
            for arm, r in res.items()
            if arm != "probe_r2"
        ),
        flush=True,
    )
    return res


def run_baselines(seed):
    """PureSVD per domain and jointly, each domain's rank chosen on validation."""
    data = make_cross_domain_interactions(n_users=3000, random_state=seed)
    known = pd.concat([data.train, data.valid], ignore_index=True)
    res = {
        arm: tuned_puresvd(data.train, data.valid, known, data.test, joint, evaluate)
        for arm, joint in (("puresvd", False), ("puresvd_joint", True))
    }
    print(f"seed {seed}: " + ", ".join(
        f"{arm} " + "/".join(f"{r[d]['ndcg10']:.3f}" for d in sorted(r))
        for arm, r in res.items()
    ), flush=True)  # fmt: skip
    return res


def probe(model, g):
    """Held-out R^2 of a linear map from CAT embeddings to the true global factors."""
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import cross_val_score

    Z = model.transform(model.users_)
    target = g[np.asarray(model.users_, dtype=int)]
    return float(cross_val_score(LinearRegression(), Z, target, cv=5).mean())


# the defaults but for the epoch budget and the batch (1.8M interactions)
SCALE_PARAMS = dict(
    mf_max_epochs=10, cat_max_epochs=10, art_max_epochs=10, batch_size=2048
)


def run_scale():
    """One torch thread (the quality part runs beside it on the other core)."""
    t0 = time.perf_counter()
    data = make_cross_domain_interactions(
        n_users=100_000, activity=(8, 6, 4, 3, 2), random_state=0
    )
    gen_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = CATARTRecommender(**SCALE_PARAMS, random_state=0, verbose=1)
    model.fit(data.train, X_valid=data.valid)
    fit_seconds = time.perf_counter() - t0
    users = data.train.loc[data.train.domain == 0, "user"].unique()
    t0 = time.perf_counter()
    recs = model.recommend(users, 0, k=10)
    rec_seconds = time.perf_counter() - t0
    return {
        "n_users": 100_000,
        "n_interactions": int(len(data.train) + len(data.valid) + len(data.test)),
        "generate_seconds": gen_seconds,
        "fit_seconds": fit_seconds,
        "recommend_users": int(len(users)),
        "recommend_seconds": rec_seconds,
        "recommend_rows": int(len(recs)),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "epochs_run": {
            "mf": [len(h) for h in model.history_["mf"].values()],
            "cat": len(model.history_["cat"]),
            "art": [len(h) for h in model.history_["art"].values()],
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="quality,scale")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--tag", default="all")
    parser.add_argument("--summarise", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if not args.summarise:
        torch.set_num_threads(1)
        if "quality" in args.parts:
            per_seed = {s: run_seed(s) for s in map(int, args.seeds.split(","))}
            path = RESULTS / f"catart.quality.{args.tag}.json"
            path.write_text(json.dumps(per_seed))
        if "scale" in args.parts:
            (RESULTS / "catart.scale.json").write_text(json.dumps(run_scale()))
        if "baselines" in args.parts:
            baselines = {s: run_baselines(s) for s in map(int, args.seeds.split(","))}
            path = RESULTS / "catart.baselines.json"
            path.write_text(json.dumps(baselines, indent=1))
    per_seed = {}
    for path in sorted(RESULTS.glob("catart.quality.*.json")):
        per_seed.update(json.loads(path.read_text()))
    scale_path = RESULTS / "catart.scale.json"
    if not per_seed:  # the quality runs are not here: keep their stored summary
        write_markdown(with_stored_scale(RESULTS / "catart.json", scale_path))
        return
    arms = list(next(iter(per_seed.values())))
    summary = {}
    for arm in arms:
        runs = [r[arm] for r in per_seed.values()]
        summary[arm] = {
            key: (
                {m: summarise([r[key][m] for r in runs]) for m in runs[0][key]}
                if isinstance(runs[0][key], dict)
                else summarise([r[key] for r in runs])
            )
            for key in runs[0]
        }
    result = {
        "params": PARAMS,
        "seeds": sorted(map(int, per_seed)),
        "summary": summary,
        "scale": json.loads(scale_path.read_text()) if scale_path.exists() else None,
    }
    (RESULTS / "catart.json").write_text(json.dumps(result, indent=1))
    write_markdown(result)
    print((RESULTS / "catart.md").read_text())


def write_markdown(result):
    s = result["summary"]
    domains = sorted(k for k in s["catart"] if k.isdigit())
    rel = (0.8, 0.8, 0.6, 0.4, 0.0)
    lines = [
        "# CAT-ART on synthetic multi-domain interactions",
        "",
        "Generated by `benchmarks/catart_benchmark.py` (seeds "
        f"{result['seeds']}, params {result['params']}). 3,000 users, 5 domains "
        "(mean activity 40/20/10/5/3, relatedness "
        + "/".join(map(str, rel))
        + "); full ranking over each domain's items, training items excluded; "
        "mean±std over seeds.",
    ]
    if result["params"] != PARAMS:
        lines += [
            "",
            f"These CAT-ART rows were measured with {result['params']}, before the "
            "current defaults (chosen on MovieLens validation items, "
            "`movielens.md`); `--parts quality` reruns them.",
        ]
    for metric in ("ndcg10", "recall10"):
        lines += [
            "",
            f"## {metric}",
            "",
            "| arm | "
            + " | ".join(f"domain {d} (rho {rel[int(d)]})" for d in domains)
            + " | mean |",
            "|---|" + "---|" * (len(domains) + 1),
        ]
        for arm, res in s.items():
            if arm == "probe_r2":
                continue
            cells = [
                f"{res[d][metric]['mean']:.3f}±{res[d][metric]['std']:.3f}"
                for d in domains
            ]
            mean = np.mean([res[d][metric]["mean"] for d in domains])
            lines.append(f"| {arm} | " + " | ".join(cells) + f" | {mean:.3f} |")
    baselines_path = RESULTS / "catart.baselines.json"
    if baselines_path.exists():
        lines += baseline_lines(json.loads(baselines_path.read_text()), domains, rel)
    probe = s["probe_r2"]
    lines += [
        "",
        "Linear probe, CAT embedding -> true global factor (5-fold R^2): "
        + ", ".join(f"{k} {v['mean']:.3f}±{v['std']:.3f}" for k, v in probe.items()),
    ]
    if result["scale"]:
        sc = result["scale"]
        lines += [
            "",
            "## Scale (one torch thread)",
            "",
            f"Every setting at its default but {SCALE_PARAMS}.",
            "",
            f"- {sc['n_users']:,} users, {sc['n_interactions']:,} interactions "
            f"(generated in {sc['generate_seconds']:.0f} s)",
            f"- fit {sc['fit_seconds']:.0f} s (epochs run: {sc['epochs_run']}), "
            f"peak RSS {sc['peak_rss_gb']:.2f} GB",
            f"- top-10 for all {sc['recommend_users']:,} users of domain 0: "
            f"{sc['recommend_seconds']:.1f} s",
        ]
    (RESULTS / "catart.md").write_text("\n".join(lines) + "\n")


def baseline_lines(per_seed, domains, rel):
    """PureSVD rows (run separately, same seeds' data; see the docstring)."""
    lines = [
        "",
        f"## PureSVD baselines (seeds {sorted(map(int, per_seed))}, same data)",
        "",
        "Fit on training + validation items, each domain's rank chosen on "
        "validation; compare with the rows above.",
        "",
        "| arm | metric | "
        + " | ".join(f"domain {d} (rho {rel[int(d)]})" for d in domains)
        + " | mean | ranks chosen |",
        "|---|---|" + "---|" * (len(domains) + 2),
    ]
    runs = list(per_seed.values())
    for arm in runs[0]:
        for metric in ("ndcg10", "recall10"):
            stats = [summarise([r[arm][d][metric] for r in runs]) for d in domains]
            ranks = "/".join(
                str(sorted({r[arm][d]["rank"] for r in runs})) for d in domains
            )
            lines.append(
                f"| {arm} | {metric} | "
                + " | ".join(f"{x['mean']:.3f}±{x['std']:.3f}" for x in stats)
                + f" | {np.mean([x['mean'] for x in stats]):.3f} | {ranks} |"
            )
    return lines


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
