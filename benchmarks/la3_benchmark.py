"""LA3 benchmark: where augmentation pays off, LA3 there against five other arms,
how reliable its rewards are, and how its search compares with exhaustive and
random search.

r. Regime sweep: no augmentation against kornia's TrivialAugment over training-set
   sizes and epoch budgets (3 paired seeds), to find where augmentation helps.
a. In that regime (default: MNIST, 100 training images, 200 epochs),
   SGSConvClassifier(scaling=None) under six arms, 5 paired seeds, each batch
   augmented afresh every epoch: none, kornia RandAugment (n=2, m=5, not tuned),
   kornia TrivialAugment, a random policy of LA3's size, label-agnostic LA3, LA3;
   plus the op shares of LA3's policies.
alpha. LA3 with other diversity weights (--alphas) or rewards measured only on the
   search images the proxy reads right (--reward-images correct), in part a's
   setting (needs part a's results).
b. Orientation shapes: share of Rotate in the policy per class group, and accuracy
   of LA3 against label-agnostic LA3.
c. Rewards measured twice independently (reliability per number of passes), then
   LA3 and random search at a fraction of the exhaustive budget against
   exhaustive scoring of the same rewards, scored on measurements no search saw.

    python benchmarks/la3_benchmark.py --parts r --datasets digits32 &
    python benchmarks/la3_benchmark.py --parts r      # MNIST (about 25 min each)
    python benchmarks/la3_benchmark.py --parts a      # about 20 min
    python benchmarks/la3_benchmark.py --parts alpha  # about 9 min
    python benchmarks/la3_benchmark.py --parts alpha --alphas 2.5,0 \
        --reward-images correct                       # about 9 min
    python benchmarks/la3_benchmark.py --parts c      # about 25 min
    python benchmarks/la3_benchmark.py --parts b
    python benchmarks/la3_benchmark.py --quick --parts rac  # smoke run

Writes benchmarks/results/la3.json, la3.md and la3_policy.png.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _common import KorniaAutoAugmenter, summarise
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split

from sklearn_suite import LabelAwareAugmenter, SGSConvClassifier
from sklearn_suite.augment import OP_NAMES, apply_policy, plot_policy
from sklearn_suite.augment._la3 import _ProxyReward, policy_op_frequency
from sklearn_suite.augment._search import ALL_TRIPLES
from sklearn_suite.datasets import (
    load_digit_images,
    make_orientation_shapes,
    read_mnist_5k,
)

RESULTS = Path(__file__).parent / "results"


class RandomPolicyAugmenter(BaseEstimator):
    """A random policy of the same size as LA3's: top_k random triples per label."""

    def __init__(self, top_k=20, random_state=0):
        self.top_k = top_k
        self.random_state = random_state

    def fit(self, X, y):
        rng = np.random.RandomState(self.random_state)
        self.policy_ = {
            label: [
                tuple(OP_NAMES[i] for i in t)
                for t in rng.randint(len(OP_NAMES), size=(self.top_k, 3))
            ]
            for label in np.unique(y)
        }
        return self

    def augment(self, X, y, random_state=None):
        out = apply_policy(
            torch.from_numpy(np.ascontiguousarray(X)),
            list(y),
            self.policy_,
            random_state,
        )
        return out.numpy()


def search_params(quick, proxy_epochs=100, passes=4):
    """LA3's settings in parts A and B: the library's search budget (20 random +
    60 guided rounds), the proxy trained half the final budget (the paper: 60 of
    200 epochs), ``passes`` passes per reward (part C measures why)."""
    if quick:
        return dict(
            proxy_max_epochs=2, n_init=3, n_rounds=3, queue_size=3, n_members=2, top_k=5
        )
    return dict(
        proxy_max_epochs=proxy_epochs,
        n_reward_passes=passes,
        n_init=20,
        n_rounds=60,
        queue_size=10,
        n_members=5,
        top_k=20,
    )


def arms(seed, search):
    return {
        "none": None,
        "randaugment": KorniaAutoAugmenter("randaugment"),
        "trivialaugment": KorniaAutoAugmenter("trivialaugment"),
        "random_policy": RandomPolicyAugmenter(search["top_k"], seed),
        "la3_agnostic": LabelAwareAugmenter(
            label_aware=False, random_state=seed, **search
        ),
        "la3": LabelAwareAugmenter(random_state=seed, **search),
    }


def part_a(quick, seeds, epochs, names, train_size, search):
    out, policy_example = {}, None
    for name in names:
        X, y = load_data(name, quick)
        acc, shares = {}, {}
        for seed in seeds:
            for arm, augmenter in arms(seed, search).items():
                start = time.perf_counter()
                score, clf = fit_score(X, y, train_size, seed, epochs, augmenter)
                acc.setdefault(arm, []).append(score)
                if arm.startswith("la3"):
                    freq = policy_op_frequency(clf.augmenter_.policy_).mean()
                    shares.setdefault(arm, []).append(freq.to_dict())
                if arm == "la3" and policy_example is None:
                    policy_example = clf.augmenter_
                print(
                    f"A {name} seed={seed} {arm:15s} acc={acc[arm][-1]:.4f} "
                    f"{time.perf_counter() - start:.0f}s",
                    flush=True,
                )
        out[name] = {arm: summarise(v) for arm, v in acc.items()}
        out[name]["deltas_vs_none"] = {
            arm: summarise(np.subtract(v, acc["none"]))
            for arm, v in acc.items()
            if arm != "none"
        }
        out[name]["la3_minus"] = {
            arm: summarise(np.subtract(acc["la3"], v))
            for arm, v in acc.items()
            if arm != "la3"
        }
        out[name]["train_size"] = train_size
        out[name]["epochs"] = epochs
        out[name]["search"] = search
        # share of op slots per op in the policies, mean over labels and seeds
        out[name]["op_share"] = {
            arm: {op: float(np.mean([f[op] for f in v])) for op in OP_NAMES}
            for arm, v in shares.items()
        }
    return out, policy_example


def part_alpha(
    quick, seeds, epochs, name, train_size, search, alphas, stored, reward_images
):
    """LA3 with other diversity weights (or rewards measured on other search
    images) in part A's setting (same seeds, splits and initial weights), paired
    with part A's stored LA3 and TrivialAugment."""
    X, y = load_data(name, quick)
    out = {}
    for alpha in alphas:
        acc, shares = [], []
        for seed in seeds:
            augmenter = LabelAwareAugmenter(
                alpha=alpha, reward_images=reward_images, random_state=seed, **search
            )
            score, clf = fit_score(X, y, train_size, seed, epochs, augmenter)
            acc.append(score)
            shares.append(policy_op_frequency(clf.augmenter_.policy_).mean())
            print(f"alpha={alpha} seed={seed} acc={acc[-1]:.4f}", flush=True)
        share = {op: float(np.mean([f[op] for f in shares])) for op in OP_NAMES}
        key = str(alpha) if reward_images == "all" else f"{alpha}, {reward_images}"
        out[key] = {
            "accuracy": summarise(acc),
            "op_share": share,
            **{
                f"minus_{arm}": summarise(
                    np.subtract(acc, stored[arm]["values"][: len(acc)])
                )
                for arm in ("la3", "trivialaugment", "none")
            },
        }
    return out


def fit_score(X, y, train_size, seed, epochs, augmenter):
    """Accuracy on the held-out rest of the classifier trained on a stratified
    split with ``augmenter`` (None: no augmentation), and the classifier; the
    split and the initial weights depend only on ``seed`` (arms are paired)."""
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, train_size=train_size, stratify=y, random_state=seed
    )
    clf = SGSConvClassifier(
        scaling=None, max_epochs=epochs, augmenter=augmenter, random_state=seed
    ).fit(X_tr, y_tr)
    return clf.score(X_te, y_te), clf


def load_data(name, quick):
    if name == "digits32":
        return load_digit_images(size=16 if quick else 32, return_X_y=True)
    return read_mnist_5k(size=16 if quick else 28, return_X_y=True)


def part_regime(quick, seeds, names, sizes, budgets):
    """No augmentation against TrivialAugment over training-set sizes and epochs:
    where does augmentation pay off at all?"""
    out = {}
    for name in names:
        X, y = load_data(name, quick)
        for size in sizes:
            for epochs in budgets:
                acc = {"none": [], "trivialaugment": []}
                for seed in seeds:
                    for arm in acc:
                        augmenter = (
                            KorniaAutoAugmenter("trivialaugment")
                            if arm == "trivialaugment"
                            else None
                        )
                        score, _ = fit_score(X, y, size, seed, epochs, augmenter)
                        acc[arm].append(score)
                    print(
                        f"R {name} n={size} epochs={epochs} seed={seed} "
                        f"none={acc['none'][-1]:.4f} "
                        f"ta={acc['trivialaugment'][-1]:.4f}",
                        flush=True,
                    )
                out[f"{name}/{size}/{epochs}"] = {
                    "data": name,
                    "train_size": size,
                    "epochs": epochs,
                    **{arm: summarise(v) for arm, v in acc.items()},
                    "ta_minus_none": summarise(
                        np.subtract(acc["trivialaugment"], acc["none"])
                    ),
                }
    return out


# part B keeps the search budget and epochs it was measured with
SHAPES_SEARCH = dict(
    proxy_max_epochs=10, n_init=10, n_rounds=30, queue_size=10, n_members=5, top_k=20
)
SHAPES_EPOCHS = 20


def part_b(quick, seeds):
    search = search_params(quick) if quick else SHAPES_SEARCH
    epochs = 2 if quick else SHAPES_EPOCHS
    X, y = make_orientation_shapes(
        280 if quick else 1400,
        size=16 if quick else 24,
        random_state=0,
        return_X_y=True,
    )
    rows = {"la3": [], "la3_agnostic": []}
    rotate = {"shapes": [], "bars": [], "agnostic": []}
    for seed in seeds:
        for arm, aware in (("la3", True), ("la3_agnostic", False)):
            augmenter = LabelAwareAugmenter(
                label_aware=aware, random_state=seed, **search
            )
            score, clf = fit_score(X, y, len(X) // 2, seed, epochs, augmenter)
            rows[arm].append(score)
            freq = policy_op_frequency(clf.augmenter_.policy_)["Rotate"]
            if aware:
                rotate["shapes"].append(
                    freq[[k for k in freq.index if not k.startswith("bar")]].mean()
                )
                rotate["bars"].append(
                    freq[[k for k in freq.index if k.startswith("bar")]].mean()
                )
            else:
                rotate["agnostic"].append(freq.mean())
            print(
                f"B seed={seed} {arm} acc={rows[arm][-1]:.4f} "
                f"rotate={freq.round(3).to_dict()}",
                flush=True,
            )
    return {
        "accuracy": {arm: summarise(v) for arm, v in rows.items()},
        "la3_minus_agnostic": summarise(np.subtract(rows["la3"], rows["la3_agnostic"])),
        "rotate_share": {k: summarise(v) for k, v in rotate.items()},
        "train_size": len(X) // 2,
        "epochs": epochs,
        "search": search,
    }


def _top(values, k):
    return np.argsort(values, kind="stable")[:k]


def measured_rewards(reward, n_classes, n_passes, seed, n_triples, chunk=256):
    """Single-pass rewards of every triple for every label, twice independently:
    shape (2, n_passes, n_classes, n_triples). Every label gets the same triple in
    a pass; ``chunk`` passes are augmented and predicted as one batch."""
    table = np.empty((2, n_passes, n_classes, n_triples))
    for half in range(2):
        for p in range(n_passes):
            for start in range(0, n_triples, chunk):
                triples = ALL_TRIPLES[start : min(start + chunk, n_triples)]
                stack = np.repeat(triples[:, None], n_classes, axis=1)
                s = ((seed * 2 + half) * 64 + p) * len(ALL_TRIPLES) + start + 10**6
                table[half, p, :, start : start + len(triples)] = reward(stack, s).T
    return table


def reliability(table, n_passes, top_k):
    """Spearman, per label, between two independent measurements of every triple's
    reward (each the mean of ``n_passes`` passes), and the overlap of their top-k."""
    from scipy.stats import spearmanr

    a, b = table[0, :n_passes].mean(0), table[1, :n_passes].mean(0)
    rho = [spearmanr(a[c], b[c])[0] for c in range(len(a))]
    overlap = [
        len(set(_top(a[c], top_k)) & set(_top(b[c], top_k))) / top_k
        for c in range(len(a))
    ]
    return {"spearman": summarise(rho), "topk_overlap": summarise(overlap)}


def part_c(
    quick,
    name,
    train_size,
    seeds,
    proxy_epochs,
    max_passes,
    passes,
    budgets,
    on_seed=None,
):
    """Reward reliability and search quality against exhaustive and random search.

    Every triple's reward is measured ``max_passes`` times in two independent
    halves. The exhaustive search ranks triples by the first half's mean of
    ``passes`` passes (the rewards LA3 sees); choices are scored on the second
    half's mean over all passes, which no search saw.
    """
    search = search_params(quick)
    top_k = search["top_k"]
    X, y = load_data(name, quick)
    n_triples = 64 if quick else len(ALL_TRIPLES)
    out = {
        "data": name,
        "train_size": train_size,
        "proxy_max_epochs": proxy_epochs,
        "passes": passes,
        "max_passes": max_passes,
        "top_k": top_k,
        "seeds": {},
    }
    for seed in seeds:
        X_tr, _, y_tr, _ = train_test_split(
            X, y, train_size=train_size, stratify=y, random_state=seed
        )
        common = dict(
            proxy_max_epochs=proxy_epochs,
            n_members=search["n_members"],
            queue_size=search["queue_size"],
            top_k=top_k,
            alpha=0.0,
            random_state=seed,
        )
        probe = LabelAwareAugmenter(n_init=1, n_rounds=0, **common).fit(X_tr, y_tr)
        labels = np.searchsorted(probe.classes_, y_tr)[probe.search_indices_]
        reward = _ProxyReward(
            probe.proxy_,
            X_tr[probe.search_indices_],
            labels,
            len(probe.classes_),
            probe.clean_accuracy_,
            probe._layout,
        )
        n_classes = len(probe.classes_)
        start = time.perf_counter()
        table = measured_rewards(reward, n_classes, max_passes, seed, n_triples)
        pass_seconds = (time.perf_counter() - start) / table[:, :, 0].size
        row = {
            "clean_accuracy": float(probe.clean_accuracy_.mean()),
            "search_images_per_label": float(np.bincount(labels).mean()),
            "seconds_per_pass": pass_seconds,
            "reliability": {
                r: reliability(table, r, top_k) for r in range(1, max_passes + 1)
            },
            "budgets": {},
        }
        print(f"C seed={seed} reliability {row['reliability']}", flush=True)
        # the rewards a search sees (first half) and the unseen truth (second)
        searched, truth = table[0, :passes].mean(0), table[1].mean(0)
        exhaustive = [_top(searched[c], top_k) for c in range(n_classes)]
        reference = np.mean([truth[c, exhaustive[c]].mean() for c in range(n_classes)])
        rng = np.random.RandomState(seed)
        for budget in budgets:
            n_init = max(1, budget // 4)
            start = time.perf_counter()
            la3 = LabelAwareAugmenter(
                n_init=n_init,
                n_rounds=budget - n_init,
                n_reward_passes=passes,
                **common,
            ).fit(X_tr, y_tr)
            seconds = time.perf_counter() - start
            assert np.allclose(la3.clean_accuracy_, probe.clean_accuracy_)
            chosen = [
                _top(la3.predicted_scores_[c, :n_triples], top_k)
                for c in range(n_classes)
            ]
            sampled = [
                rng.choice(n_triples, budget, replace=False) for _ in range(n_classes)
            ]
            random_pick = [
                sampled[c][_top(searched[c, sampled[c]], top_k)]
                for c in range(n_classes)
            ]
            row["budgets"][budget] = {
                "evaluation_ratio": budget / n_triples,
                "la3_seconds": seconds,
                "la3_regret": float(
                    np.mean([truth[c, chosen[c]].mean() for c in range(n_classes)])
                    - reference
                ),
                "random_regret": float(
                    np.mean([truth[c, random_pick[c]].mean() for c in range(n_classes)])
                    - reference
                ),
                "la3_overlap": float(
                    np.mean(
                        [
                            len(set(chosen[c]) & set(exhaustive[c])) / top_k
                            for c in range(n_classes)
                        ]
                    )
                ),
                "random_overlap": float(
                    np.mean(
                        [
                            len(set(random_pick[c]) & set(exhaustive[c])) / top_k
                            for c in range(n_classes)
                        ]
                    )
                ),
            }
            print(f"C seed={seed} budget={budget} {row['budgets'][budget]}", flush=True)
        row["exhaustive_truth_reward"] = float(reference)
        row["oracle_truth_reward"] = float(
            np.mean([np.sort(truth[c])[:top_k].mean() for c in range(n_classes)])
        )
        row["mean_truth_reward"] = float(truth.mean())
        out["seeds"][seed] = row
        if on_seed is not None:
            on_seed(out)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shape-seeds", type=int, default=3)
    parser.add_argument("--parts", default="rabc", help="r (regime sweep), a, b, c")
    parser.add_argument(
        "--datasets",
        default="mnist5k",
        help="datasets of parts r and a (run them as separate processes to use "
        "several cores)",
    )
    parser.add_argument("--train-sizes", default="100,200,500", help="part r")
    parser.add_argument("--budgets", default="50,200", help="part r: epochs")
    parser.add_argument("--train-size", type=int, default=100, help="parts a and c")
    parser.add_argument("--epochs", type=int, default=200, help="part a")
    parser.add_argument("--proxy-epochs", type=int, default=100, help="parts a, c")
    parser.add_argument("--passes", type=int, default=4, help="LA3's, parts a, c")
    parser.add_argument(
        "--alphas", default="0,1", help="part alpha: LA3's diversity weights"
    )
    parser.add_argument(
        "--reward-images",
        default="all",
        help='part alpha: LA3\'s reward_images ("correct": only images the proxy '
        "reads right)",
    )
    parser.add_argument("--search-seeds", type=int, default=2, help="part c")
    parser.add_argument("--max-passes", type=int, default=4, help="part c")
    parser.add_argument(
        "--search-budgets", default="100,400", help="part c: LA3 rounds"
    )
    args = parser.parse_args()
    seeds = list(range(2 if args.quick else args.seeds))
    shape_seeds = list(range(1 if args.quick else args.shape_seeds))
    epochs = 2 if args.quick else args.epochs
    suffix = "_quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    new = {}
    datasets = args.datasets.split(",")
    if "r" in args.parts:
        new["regime"] = part_regime(
            args.quick,
            seeds[:3],
            datasets,
            [int(v) for v in args.train_sizes.split(",")],
            [2] if args.quick else [int(v) for v in args.budgets.split(",")],
        )
    search = search_params(args.quick, args.proxy_epochs, args.passes)
    if "a" in args.parts.replace("alpha", ""):
        new["A"], policy = part_a(
            args.quick,
            seeds,
            epochs,
            datasets,
            100 if args.quick else args.train_size,
            search,
        )
        if policy is not None:
            fig = plot_policy(policy, title=f"LA3 policy on {datasets[0]}, seed 0")
            fig.savefig(
                RESULTS / f"la3_policy{suffix}.png", dpi=110, bbox_inches="tight"
            )
    if "alpha" in args.parts:  # needs part A's results of the same dataset
        stored = json.loads((RESULTS / f"la3{suffix}.json").read_text())
        new["alpha"] = part_alpha(
            args.quick,
            seeds,
            epochs,
            datasets[0],
            100 if args.quick else args.train_size,
            search,
            [float(v) for v in args.alphas.split(",")],
            stored["A"][datasets[0]],
            args.reward_images,
        )
    if "b" in args.parts.replace("alpha", ""):
        new["B"] = part_b(args.quick, shape_seeds)
    if "c" in args.parts.replace("alpha", ""):
        new["C"] = part_c(
            args.quick,
            datasets[0],
            100 if args.quick else args.train_size,
            list(range(1 if args.quick else args.search_seeds)),
            2 if args.quick else args.proxy_epochs,
            2 if args.quick else args.max_passes,
            1 if args.quick else args.passes,
            [8, 16] if args.quick else [int(v) for v in args.search_budgets.split(",")],
            on_seed=lambda c: save({"C": c}, suffix),
        )
    save(new, suffix)


def save(new, suffix):
    """Merge ``new`` parts into the results file (other processes may have written
    other parts meanwhile) and rewrite the markdown."""
    path = RESULTS / f"la3{suffix}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    new = dict(new)
    results.setdefault("A", {}).update(new.pop("A", {}))
    results.setdefault("regime", {}).update(new.pop("regime", {}))
    results.setdefault("alpha", {}).update(new.pop("alpha", {}))
    results.update(new)
    results["settings"] = {
        "classifier": "SGSConvClassifier(scaling=None), SmallVGG "
        "(16, 32), SGD 0.05 cosine, batch 64, last epoch",
    }
    path.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"la3{suffix}.md").write_text(markdown(results))
    print(markdown(results))


def _signed(values):
    return ", ".join(f"{v:+.3f}" for v in values)


GEOMETRIC = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")


def _share_summary(share, n_top):
    """(share of the geometric ops, "op share, ..." of the n_top most used)."""
    top = sorted(share, key=share.get, reverse=True)[:n_top]
    return (
        sum(share[op] for op in GEOMETRIC),
        ", ".join(f"{op} {share[op]:.3f}" for op in top),
    )


def _regime_markdown(regime):
    lines = [
        "## R. Where augmentation pays off (regime sweep)",
        "",
        "No augmentation against kornia's TrivialAugment, same classifier and "
        "epochs, 3 paired seeds, over training-set sizes and epoch budgets.",
        "",
        "| data | train | epochs | none | TrivialAugment | TA − none (paired) |",
        "|---|---|---|---|---|---|",
    ]
    for row in regime.values():
        d = row["ta_minus_none"]
        lines.append(
            f"| {row['data']} | {row['train_size']} | {row['epochs']} | "
            f"{row['none']['mean']:.4f} ± {row['none']['std']:.4f} | "
            f"{row['trivialaugment']['mean']:.4f} ± "
            f"{row['trivialaugment']['std']:.4f} | {d['mean']:+.4f} ± "
            f"{d['std']:.4f} ({_signed(d['values'])}) |"
        )
    return lines + [""]


def markdown(r):
    s = r["settings"]
    lines = [
        "# LA3 benchmark",
        "",
        f"Classifier: {s['classifier']}. Every arm draws fresh augmentations for "
        "each batch of each epoch; arms are paired (same split and initial "
        "weights per seed).",
        "",
    ]
    if r.get("regime"):
        lines += _regime_markdown(r["regime"])
    if r.get("A"):
        lines += ["## A. Accuracy", ""]
        for name, arms_ in r["A"].items():
            lines += [
                f"{name}: {arms_['train_size']} training images, "
                f"{arms_['epochs']} epochs for every arm, "
                f"{len(arms_['none']['values'])} seeds; LA3 settings "
                f"{arms_['search']}.",
                "",
            ]
        lines += [
            "| data | arm | accuracy mean ± std | Δ vs none | LA3 − arm (paired) |",
            "|---|---|---|---|---|",
        ]
        for name, arms_ in r["A"].items():
            for arm in (
                "none",
                "randaugment",
                "trivialaugment",
                "random_policy",
                "la3_agnostic",
                "la3",
            ):
                a = arms_[arm]
                d = arms_["deltas_vs_none"].get(arm)
                m = arms_["la3_minus"].get(arm)
                lines.append(
                    f"| {name} | {arm} | {a['mean']:.4f} ± {a['std']:.4f} | "
                    + (f"{d['mean']:+.4f} ± {d['std']:.4f}" if d else "—")
                    + " | "
                    + (
                        f"{m['mean']:+.4f} ± {m['std']:.4f} ({_signed(m['values'])})"
                        if m
                        else "—"
                    )
                    + " |"
                )
        lines.append("")
        for name, arms_ in r["A"].items():
            for arm, share in arms_.get("op_share", {}).items():
                geometric, top = _share_summary(share, 5)
                lines.append(
                    f"- {name}, {arm} policy: geometric ops "
                    f"({', '.join(GEOMETRIC)}) fill {geometric:.3f} of the op slots "
                    f"(uniform: {len(GEOMETRIC) / 16:.3f}), Identity "
                    f"{share['Identity']:.3f}; most used: {top}"
                )
        lines.append("")
    if r.get("alpha"):
        lines += [
            "### LA3's diversity weight and reward images (same setting, seeds "
            'and splits as A; "correct": rewards measured only on the search '
            "images the proxy reads right)",
            "",
            "| alpha | accuracy | LA3 (default) − this | this − TrivialAugment | "
            "geometric share | most used ops |",
            "|---|---|---|---|---|---|",
        ]
        for alpha, a in r["alpha"].items():
            geometric, top = _share_summary(a["op_share"], 4)
            d_la3, d_ta = a["minus_la3"], a["minus_trivialaugment"]
            lines.append(
                f"| {alpha} | {a['accuracy']['mean']:.4f} ± "
                f"{a['accuracy']['std']:.4f} | {-d_la3['mean']:+.4f} ± "
                f"{d_la3['std']:.4f} | {d_ta['mean']:+.4f} ± {d_ta['std']:.4f} "
                f"({_signed(d_ta['values'])}) | {geometric:.3f} | {top} |"
            )
        lines.append("")
    if "B" in r:
        b = r["B"]
        rs = b["rotate_share"]
        lines += [
            "## B. Orientation shapes",
            "",
            f"Seeds {len(b['la3_minus_agnostic']['values'])}, {b['train_size']} "
            f"training images, {b.get('epochs', SHAPES_EPOCHS)} epochs, LA3 "
            f"settings {b.get('search', SHAPES_SEARCH)}.",
            "",
            f"- Rotate share of op slots in LA3's policy: shape classes "
            f"{rs['shapes']['mean']:.3f} ± {rs['shapes']['std']:.3f}, bar classes "
            f"{rs['bars']['mean']:.3f} ± {rs['bars']['std']:.3f} (label-agnostic "
            f"policy: {rs['agnostic']['mean']:.3f}; uniform share 1/16 = 0.0625)",
            f"- accuracy: LA3 {b['accuracy']['la3']['mean']:.4f} ± "
            f"{b['accuracy']['la3']['std']:.4f}, label-agnostic LA3 "
            f"{b['accuracy']['la3_agnostic']['mean']:.4f} ± "
            f"{b['accuracy']['la3_agnostic']['std']:.4f}; paired Δ "
            f"{b['la3_minus_agnostic']['mean']:+.4f} ± "
            f"{b['la3_minus_agnostic']['std']:.4f}",
            "",
        ]
    if "C" in r and "seeds" in r["C"]:
        c = r["C"]
        lines += [
            f"## C. Reward reliability and search quality ({c['data']}, "
            f"{c['train_size']} training images, proxy {c['proxy_max_epochs']} "
            "epochs)",
            "",
            "Every triple's reward for every label measured in two independent "
            f"halves of {c['max_passes']} passes each (fresh random levels per "
            "pass). Reliability: per-label Spearman over all triples between the "
            "two halves, each the mean of r passes; and the overlap of their "
            f"top-{c['top_k']}.",
            "",
            "| seed | search images / label | proxy clean acc | s / pass | "
            + " | ".join(
                f"r={p}" for p in c["seeds"][next(iter(c["seeds"]))]["reliability"]
            )
            + " |",
            "|---|---|---|---|"
            + "---|" * len(c["seeds"][next(iter(c["seeds"]))]["reliability"]),
        ]
        for seed, row in c["seeds"].items():
            lines.append(
                f"| {seed} | {row['search_images_per_label']:.0f} | "
                f"{row['clean_accuracy']:.3f} | {row['seconds_per_pass']:.4f} | "
                + " | ".join(
                    f"{v['spearman']['mean']:.2f} (top-{c['top_k']} "
                    f"{v['topk_overlap']['mean']:.2f})"
                    for v in row["reliability"].values()
                )
                + " |"
            )
        lines += [
            "",
            f"Search: LA3 (alpha = 0, {c['passes']} passes per reward) and random "
            "search with the same number of rounds, against the exhaustive search "
            f"of the same rewards (every triple, {c['passes']} passes: the first "
            "half). Each picks its top-k per label; regret = mean accuracy drop "
            "(points) of its picks minus the exhaustive picks', both measured on "
            "the second half, which no search saw (lower is better).",
            "",
            "| seed | rounds | share of exhaustive | LA3 regret | random regret | "
            "LA3 overlap | random overlap | LA3 fit (s) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for seed, row in c["seeds"].items():
            for budget, b in row["budgets"].items():
                lines.append(
                    f"| {seed} | {budget} | {b['evaluation_ratio']:.3f} | "
                    f"{b['la3_regret']:+.2f} | {b['random_regret']:+.2f} | "
                    f"{b['la3_overlap']:.2f} | {b['random_overlap']:.2f} | "
                    f"{b['la3_seconds']:.0f} |"
                )
        lines += [
            "",
            "Reference rewards (second half): exhaustive picks "
            + ", ".join(
                f"{row['exhaustive_truth_reward']:.2f}" for row in c["seeds"].values()
            )
            + "; best possible (the second half's own top-k) "
            + ", ".join(
                f"{row['oracle_truth_reward']:.2f}" for row in c["seeds"].values()
            )
            + "; mean over all triples "
            + ", ".join(
                f"{row['mean_truth_reward']:.2f}" for row in c["seeds"].values()
            )
            + ".",
            "",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
