"""RecGURU benchmark: the sparse domain's next-item ranking against baselines at
0%, 10% and 50% user overlap, and the discriminator's accuracy over training.

``make_cross_domain_sequences`` (domain 0: 3,000 users, mean 30 items; domain 1:
2,000 users, mean 6 items; relatedness 0.8, preference drift and item-to-item
transitions). Leave-one-out: the last item of each sequence is the test item,
the one before the validation item (used by every model to choose its step, then
part of the history). HR@10, NDCG@10 and MRR@10 of domain 1's test items against
199 negatives the user never interacted with, sampled uniformly or by
popularity^0.75 (seeded: every model meets the same candidates).

Arms: popularity; SASRec-style single-domain model; the single-domain
autoencoder (RecGURU's model fitted on domain 1 alone: no second domain, no
adversary); RecGURU without the adversarial term; RecGURU. Domain 1 is the same
at every overlap for a given seed, so the single-domain arms run once per seed.
The discriminator also trains in the "without adversary" arm, to show how
separable the GURs are when nothing aligns them.

    python benchmarks/recguru_benchmark.py --worker 0/2 &
    python benchmarks/recguru_benchmark.py --worker 1/2
    python benchmarks/recguru_benchmark.py --summarise

Scale (``--scale``): 50,000 users in each domain (half of domain 1's users also
in domain 0; 3,000 and 2,000 items), RecGURU at its defaults, two torch threads
(run it alone): generation, fit and top-10 seconds, peak memory.

Writes benchmarks/results/recguru.json and recguru.md (partial results per unit
in recguru.part.*.json, ignored by git).
"""

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import summarise, with_stored_scale

from sklearn_suite.datasets import make_cross_domain_sequences
from sklearn_suite.recommend import (
    PopularityRecommender,
    RecGURURecommender,
    SASRecRecommender,
    sampled_ranking_metrics,
)

RESULTS = Path(__file__).parent / "results"
SCALE = RESULTS / "recguru.part.scale.json"
SEEDS = (0, 1, 2, 3, 4)
OVERLAPS = (0.0, 0.1, 0.5)
ARCH = dict(d_model=32, n_blocks=2, n_heads=1, d_ff=64, max_len=20, dropout=0.2)
STEPS = dict(pretrain_steps=100, gan_steps=150, tune_steps=300)
PARAMS = dict(**ARCH, **STEPS, batch_size=128, eval_every=25, lr_gan=1e-3)
SASREC = dict(**ARCH, batch_size=128, eval_every=25, n_steps=sum(STEPS.values()))
SAMPLINGS = ("uniform", "popularity")


def sparse(frame):
    return frame[frame["domain"] == 1]


def evaluate(model, data, seed):
    known = sparse(pd.concat([data.train, data.valid]))
    out = {}
    for sampling in SAMPLINGS:
        m = sampled_ranking_metrics(
            model, sparse(data.test), known, 10, 199, sampling, random_state=seed
        )[1]
        out[sampling] = {"hr10": m["hr"], "ndcg10": m["ndcg"], "mrr10": m["mrr"]}
    return out


def timed(name, make, data, seed, res):
    t0 = time.perf_counter()
    model = make()
    res[name] = evaluate(model, data, seed)
    res[name]["seconds"] = time.perf_counter() - t0
    u = res[name]["uniform"]
    print(f"  {name}: HR@10 {u['hr10']:.4f} NDCG@10 {u['ndcg10']:.4f}", flush=True)
    return model


def run_single_domain(seed):
    """Arms that see domain 1 only (identical at every overlap)."""
    data = make_cross_domain_sequences(random_state=seed, overlap=0.0)
    train, valid = sparse(data.train), sparse(data.valid)
    res = {}
    timed(
        "popularity",
        lambda: PopularityRecommender().fit(pd.concat([train, valid])),
        data, seed, res,
    )  # fmt: skip
    timed(
        "sasrec",
        lambda: SASRecRecommender(**SASREC, random_state=seed).fit(
            train, X_valid=valid
        ),
        data, seed, res,
    )  # fmt: skip
    timed(
        "single_domain_ae",
        lambda: RecGURURecommender(**PARAMS, random_state=seed).fit(
            train, X_valid=valid
        ),
        data, seed, res,
    )  # fmt: skip
    return res


def run_overlap(seed, overlap):
    data = make_cross_domain_sequences(random_state=seed, overlap=overlap)
    res = {}
    for name, adversarial in (("recguru_no_adversary", False), ("recguru", True)):
        model = timed(
            name,
            lambda adv=adversarial: RecGURURecommender(
                **PARAMS, adversarial=adv, target_domain=1, random_state=seed
            ).fit(data.train, X_valid=data.valid),
            data, seed, res,
        )  # fmt: skip
        steps, accuracy = zip(*model.history_["gan"][:, ("step", "d_accuracy")])
        res[name]["d_accuracy"], res[name]["d_steps"] = list(accuracy), list(steps)
        res[name]["n_overlap_users"] = len(model.overlap_users_)
    return res


def run_scale():
    t0 = time.perf_counter()
    data = make_cross_domain_sequences(
        n_users=(50_000, 50_000), n_items=(3000, 2000), overlap=0.5, random_state=0
    )
    gen_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = RecGURURecommender(target_domain=1, random_state=0, verbose=1)
    model.fit(data.train, X_valid=data.valid)
    fit_seconds = time.perf_counter() - t0
    users = sparse(data.test).user.to_numpy()
    t0 = time.perf_counter()
    model.recommend(users, 1, k=10)
    rec_seconds = time.perf_counter() - t0
    tune = model.history_["tune"]
    return {
        "n_users": [
            int(data.train[data.train.domain == d].user.nunique()) for d in (0, 1)
        ],
        "n_interactions": int(len(data.train) + len(data.valid) + len(data.test)),
        "generate_seconds": gen_seconds,
        "fit_seconds": fit_seconds,
        "recommend_users": int(len(users)),
        "recommend_seconds": rec_seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "valid_hr": list(tune[:, "valid_hr"]),
        "test": evaluate(model, data, 0),
    }


def units():
    out = [(seed, "single") for seed in SEEDS]
    out += [(seed, overlap) for seed in SEEDS for overlap in OVERLAPS]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", default="0/1", help="i/n: run every n-th unit")
    parser.add_argument("--summarise", action="store_true")
    parser.add_argument("--scale", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.scale:  # alone on the machine, both cores
        torch.set_num_threads(2)
        SCALE.write_text(json.dumps(run_scale()))
    elif not args.summarise:
        torch.set_num_threads(1)
        i, n = map(int, args.worker.split("/"))
        for seed, unit in units()[i::n]:
            path = RESULTS / f"recguru.part.{seed}.{unit}.json"
            if path.exists():
                continue
            print(f"seed {seed} {unit}", flush=True)
            if unit == "single":
                res = run_single_domain(seed)
            else:
                res = run_overlap(seed, unit)
            path.write_text(json.dumps(res))
    summary_all()


def summary_all():
    parts = {}
    for seed, unit in units():
        path = RESULTS / f"recguru.part.{seed}.{unit}.json"
        if path.exists():
            parts[(seed, unit)] = json.loads(path.read_text())
    seeds = sorted({s for s, u in parts if u == "single"})
    if not seeds:  # the seed runs are not here: keep their stored summary
        write_markdown(with_stored_scale(RESULTS / "recguru.json", SCALE))
        return
    summary = {}
    for overlap in OVERLAPS:
        done = [s for s in seeds if (s, overlap) in parts]
        if not done:
            continue
        runs = [{**parts[(s, "single")], **parts[(s, overlap)]} for s in done]
        summary[str(overlap)] = {
            arm: {
                sampling: {
                    m: summarise([r[arm][sampling][m] for r in runs])
                    for m in runs[0][arm][sampling]
                }
                for sampling in SAMPLINGS
            }
            | {"seconds": summarise([r[arm]["seconds"] for r in runs])}
            for arm in runs[0]
        }
        for arm in ("recguru_no_adversary", "recguru"):
            curves = np.array([r[arm]["d_accuracy"] for r in runs])
            summary[str(overlap)][arm]["d_accuracy"] = {
                "steps": runs[0][arm]["d_steps"],
                "mean": curves.mean(0).round(4).tolist(),
            }
            summary[str(overlap)][arm]["n_overlap_users"] = runs[0][arm][
                "n_overlap_users"
            ]
    result = {"params": PARAMS, "sasrec": SASREC, "seeds": seeds, "summary": summary}
    if SCALE.exists():
        result["scale"] = json.loads(SCALE.read_text())
    (RESULTS / "recguru.json").write_text(json.dumps(result, indent=1))
    write_markdown(result)
    print((RESULTS / "recguru.md").read_text())


ARMS = ("popularity", "sasrec", "single_domain_ae", "recguru_no_adversary", "recguru")


def write_markdown(result):
    lines = [
        "# RecGURU on synthetic two-domain sequences",
        "",
        f"Generated by `benchmarks/recguru_benchmark.py` (seeds {result['seeds']}; "
        f"RecGURU params {result['params']}; SASRec {result['sasrec']}). Sparse "
        "domain 1 (2,000 users, mean 6 items), dense domain 0 (3,000 users, mean "
        "30 items). Test item of each domain-1 user against 199 sampled negatives "
        "the user never interacted with; mean±std over seeds.",
    ]
    for sampling in SAMPLINGS:
        lines += [
            "",
            f"## {sampling} negatives",
            "",
            "| arm | "
            + " | ".join(
                f"HR@10 {o:.0%} | NDCG@10 {o:.0%}"
                for o in map(float, result["summary"])
            )
            + " |",
            "|---|" + "---|---|" * len(result["summary"]),
        ]
        for arm in ARMS:
            cells = []
            for s in result["summary"].values():
                m = s[arm][sampling]
                cells += [
                    f"{m[k]['mean']:.3f}±{m[k]['std']:.3f}" for k in ("hr10", "ndcg10")
                ]
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Discriminator accuracy on held-out users' GURs (mean over seeds)",
        "",
        "| overlap | arm | overlapping users | accuracy at generator steps |",
        "|---|---|---|---|",
    ]
    for overlap, s in result["summary"].items():
        for arm in ("recguru_no_adversary", "recguru"):
            acc = s[arm]["d_accuracy"]
            curve = ", ".join(
                f"{step}: {a:.2f}" for step, a in zip(acc["steps"], acc["mean"])
            )
            lines.append(
                f"| {float(overlap):.0%} | {arm} | {s[arm]['n_overlap_users']} "
                f"| {curve} |"
            )
    lines += ["", "Fit seconds (one torch thread, mean): "]
    first = next(iter(result["summary"].values()))
    lines[-1] += ", ".join(f"{arm} {first[arm]['seconds']['mean']:.0f}" for arm in ARMS)
    if result.get("scale"):
        sc = result["scale"]
        u = sc["test"]["uniform"]
        lines += [
            "",
            "## Scale (two torch threads, alone; RecGURU at its defaults)",
            "",
            f"- {sc['n_users'][0]:,} + {sc['n_users'][1]:,} users, "
            f"{sc['n_interactions']:,} interactions (generated in "
            f"{sc['generate_seconds']:.0f} s)",
            f"- fit {sc['fit_seconds']:.0f} s, peak RSS {sc['peak_rss_gb']:.2f} GB; "
            "validation HR@10 by fine-tuning round: "
            + ", ".join(f"{h:.3f}" for h in sc["valid_hr"]),
            f"- test (domain 1, 199 uniform negatives): HR@10 {u['hr10']:.3f}, "
            f"NDCG@10 {u['ndcg10']:.3f}",
            f"- top-10 for all {sc['recommend_users']:,} test users of domain 1: "
            f"{sc['recommend_seconds']:.1f} s",
        ]
    (RESULTS / "recguru.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
