"""SGS benchmark: low-data accuracy over paired seeds, and training cost.

Arms (same split, same init seed, per seed):
  baseline   plain SGD                       SGSConvClassifier(scaling=None)
  sgs_mi     SGS, mutual-information maps    SGSConvClassifier(scaling="mi")
  sgs_branch SGS, fixed 3x3+1x3+3x1 map      SGSConvClassifier(scaling="branch")
  acb_bn     the branched net itself, BN inside branches (ACB style), plain SGD
  acb_plain  the branched net without BN inside the branches (the structure the
             equivalence lemma maps to sgs_branch; weight decay breaks exactness)

Cost (a separate part, run on an otherwise idle machine): wall time per epoch of
sgs_mi and acb_bn over baseline, fits interleaved and repeated (median of 3), and of
SGSConvClassifier(scaling=None) over a hand-written PyTorch loop on the same module,
data, optimizer and schedule.

    python benchmarks/sgs_benchmark.py                 # both parts (about 20 min)
    python benchmarks/sgs_benchmark.py --parts cost    # only the cost part
    python benchmarks/sgs_benchmark.py --quick         # smoke run

Regime: where do ACB-style branches beat plain training? Plain against ACB-BN over
the SETTINGS below (3 paired seeds each; settings can run as separate processes),
then every arm in the setting where the branches led:

    python benchmarks/sgs_benchmark.py --parts regime --settings NAME,NAME
    python benchmarks/sgs_benchmark.py --parts accuracy --setting mnist_1000_30ep_lr0.5
    python benchmarks/sgs_benchmark.py --parts accuracy --setting \
        mnist_1000_30ep_lr0.5_wd0 --seeds 3

Writes benchmarks/results/sgs.json, sgs.md and sgs_maps.png.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _common import KorniaAutoAugmenter, summarise
from sklearn.model_selection import train_test_split

from sklearn_suite import SGSConvClassifier
from sklearn_suite.conv import SmallVGG, plot_scalings
from sklearn_suite.datasets import load_digit_images, read_mnist_5k

RESULTS = Path(__file__).parent / "results"
ACB = ("square", "horizontal", "vertical")
ARMS = {
    "baseline": dict(scaling=None),
    "sgs_mi": dict(scaling="mi"),
    "sgs_branch": dict(scaling="branch"),
    "acb_bn": dict(scaling=None, module_params=dict(branches=ACB, branch_bn=True)),
    # the structure the lemma equates with sgs_branch (no BN inside the branches)
    "acb_plain": dict(scaling=None, module_params=dict(branches=ACB, branch_bn=False)),
}


# Part "regime": where do ACB-style branches (BN inside) beat plain training?
# Each setting: data, training images, epochs, learning rate, module, augmentation.
SETTINGS = {
    "digits_500_30ep": dict(data="digits32", train=500, epochs=30),
    "mnist_200_200ep": dict(data="mnist5k", train=200, epochs=200),
    "mnist_200_200ep_ta": dict(
        data="mnist5k", train=200, epochs=200, augment="trivialaugment"
    ),
    "mnist_1000_30ep_lr0.2": dict(data="mnist5k", train=1000, epochs=30, lr=0.2),
    "mnist_1000_30ep_lr0.5": dict(data="mnist5k", train=1000, epochs=30, lr=0.5),
    # the same without weight decay, under which the lemma is exact
    "mnist_1000_30ep_lr0.5_wd0": dict(
        data="mnist5k", train=1000, epochs=30, lr=0.5, weight_decay=0.0
    ),
    "mnist_1000_10ep_lr0.01": dict(data="mnist5k", train=1000, epochs=10, lr=0.01),
    "mnist_500_30ep_vgg3": dict(
        data="mnist5k", train=500, epochs=30, widths=(16, 32, 64)
    ),
    "mnist_500_60ep_resnet": dict(
        data="mnist5k",
        train=500,
        epochs=60,
        module="resnet",
        widths=(16, 32, 64),
        module_params=dict(blocks_per_stage=2),
    ),
}


def setting_params(setting, arm):
    """SGSConvClassifier keyword arguments of ``arm`` in ``setting``."""
    params = dict(ARMS[arm])
    module_params = {**setting.get("module_params", {})}
    module_params.update(params.pop("module_params", {}))
    augment = setting.get("augment")
    return dict(
        params,
        module=setting.get("module", "vgg"),
        widths=setting.get("widths", (16, 32)),
        module_params=module_params or None,
        lr=setting.get("lr", 0.05),
        weight_decay=setting.get("weight_decay", 5e-4),
        max_epochs=setting["epochs"],
        augmenter=KorniaAutoAugmenter(augment) if augment else None,
    )


def load_data(name):
    if name == "mnist5k":
        return read_mnist_5k(size=28, return_X_y=True)
    return load_digit_images(size=32, return_X_y=True)


def run_setting(name, setting, arms, seeds, quick=False, data=None, on_fit=None):
    """Accuracy of ``arms`` over paired seeds in one setting; ``data`` is its
    ``(X, y)`` if already loaded, ``on_fit(arm, clf)`` sees every fitted model."""
    X, y = load_data(setting["data"]) if data is None else data
    train = 100 if quick else setting["train"]
    acc = {arm: [] for arm in arms}
    seconds = {arm: [] for arm in arms}
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, train_size=train, stratify=y, random_state=seed
        )
        for arm in arms:
            params = setting_params(setting, arm)
            if quick:
                params["max_epochs"] = 2
            clf = SGSConvClassifier(random_state=seed, **params)
            start = time.perf_counter()
            clf.fit(X_train, y_train)
            seconds[arm].append(time.perf_counter() - start)
            acc[arm].append(clf.score(X_test, y_test))
            if on_fit is not None:
                on_fit(arm, clf)
            print(f"{name} seed={seed} {arm:10s} acc={acc[arm][-1]:.4f}", flush=True)
    out = {arm: summarise(v) for arm, v in acc.items()}
    out["deltas_vs_baseline"] = {
        arm: summarise(np.subtract(acc[arm], acc["baseline"]))
        for arm in arms
        if arm != "baseline"
    }
    out["fit_seconds"] = {arm: summarise(v) for arm, v in seconds.items()}
    out["train_size"], out["test_size"] = train, len(X) - train
    out["setting"] = {k: str(v) for k, v in setting.items()}
    return out


def datasets(quick):
    digits, mnist = load_data("digits32"), load_data("mnist5k")
    per_class = {"digits32": 50, "mnist5k": 100}
    if quick:
        per_class = {"digits32": 10, "mnist5k": 10}
    return {
        "digits32": (digits, per_class["digits32"]),
        "mnist5k": (mnist, per_class["mnist5k"]),
    }


def fit_arm(arm, X_train, y_train, seed, max_epochs):
    clf = SGSConvClassifier(max_epochs=max_epochs, random_state=seed, **ARMS[arm])
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    return clf, (time.perf_counter() - start) / max_epochs


def hand_written_loop(X, y, seed, max_epochs, batch_size=64, lr=0.05):
    """The same training as SGSConvClassifier(scaling=None), in plain PyTorch."""
    start = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = SmallVGG(X.shape[1], int(y.max()) + 1, widths=(16, 32))
        opt = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4
        )
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs)
        data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
        loader = torch.utils.data.DataLoader(
            data,
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
            drop_last=len(X) % batch_size == 1,
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(max_epochs):
            model.train()
            for xb, yb in loader:
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
            sched.step()
    return (time.perf_counter() - start) / max_epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--parts", default="accuracy,cost", help="also: regime")
    parser.add_argument(
        "--settings", default=",".join(SETTINGS), help="part regime (names)"
    )
    parser.add_argument(
        "--setting",
        default=None,
        help="part accuracy: every arm in this one setting instead of the defaults",
    )
    args = parser.parse_args()
    seeds = range(2 if args.quick else args.seeds)
    epochs = 2 if args.quick else args.epochs
    suffix = "_quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"sgs{suffix}.json"
    new, regime, chosen = {}, {}, {}
    settings = {
        "seeds": list(seeds),
        "max_epochs": epochs,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "checkpoint": "last epoch (no validation selection)",
    }
    data = datasets(args.quick)
    (X, y), _ = data["digits32"]
    fit_arm("sgs_mi", X[:100], y[:100], 0, 1)  # warm-up: no arm pays first-call costs
    if "regime" in args.parts:
        for name in args.settings.split(","):
            regime[name] = run_setting(
                name, SETTINGS[name], ("baseline", "acb_bn"), seeds[:3], args.quick
            )
    if "accuracy" in args.parts and args.setting:
        chosen[args.setting] = run_setting(
            args.setting, SETTINGS[args.setting], tuple(ARMS), seeds, args.quick
        )
    elif "accuracy" in args.parts:
        new["settings"] = settings
        new["accuracy"], maps = accuracy_part(data, seeds, epochs)
        fig = plot_scalings(maps, title="SGS-MI maps, digits 32x32, seed 0")
        fig.savefig(RESULTS / f"sgs_maps{suffix}.png", dpi=110, bbox_inches="tight")
    if "cost" in args.parts:
        new["settings"] = settings
        new["cost"] = cost_part(data, epochs)
    # merge into what other processes wrote meanwhile (settings run concurrently)
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update(new)
    results.setdefault("regime", {}).update(regime)
    results.setdefault("chosen", {}).update(chosen)
    path.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"sgs{suffix}.md").write_text(markdown(results))
    print(markdown(results))


def accuracy_part(data, seeds, epochs):
    """Every arm at the default settings on each dataset; also the first SGS-MI
    model (for its maps)."""
    out, mi_models = {}, []

    def keep_mi(arm, clf):
        if arm == "sgs_mi" and not mi_models:
            mi_models.append(clf)

    for name, ((X, y), per_class) in data.items():
        setting = dict(data=name, train=per_class * 10, epochs=epochs)
        out[name] = run_setting(
            name, setting, tuple(ARMS), seeds, data=(X, y), on_fit=keep_mi
        )
    return out, mi_models[0]


def cost_part(data, epochs, repeats=3):
    """Seconds per epoch, fits interleaved so drifts in machine speed hit every
    arm alike; medians over repeats."""
    out = {}
    for name, ((X, y), per_class) in data.items():
        X_train, _, y_train, _ = train_test_split(
            X, y, train_size=per_class * 10, stratify=y, random_state=0
        )
        sec = {arm: [] for arm in ("baseline", "sgs_mi", "acb_bn")}
        hand = []
        for _ in range(repeats):
            for arm in sec:
                sec[arm].append(fit_arm(arm, X_train, y_train, 0, epochs)[1])
            hand.append(hand_written_loop(X_train, y_train, 0, epochs))
            print(
                f"cost {name}: "
                + ", ".join(f"{a}={v[-1]:.3f}" for a, v in sec.items())
                + f", hand={hand[-1]:.3f}",
                flush=True,
            )
        med = {arm: float(np.median(v)) for arm, v in sec.items()}
        out[name] = {
            "seconds_per_epoch": {arm: summarise(v) for arm, v in sec.items()},
            "hand_loop_seconds_per_epoch": summarise(hand),
            "sgs_mi_over_baseline": med["sgs_mi"] / med["baseline"],
            "acb_bn_over_baseline": med["acb_bn"] / med["baseline"],
            "wrapper_over_hand_loop": med["baseline"] / float(np.median(hand)),
        }
    return out


def _setting_text(setting):
    return ", ".join(f"{k}={v}" for k, v in setting.items())


def markdown(results):
    s = results.get("settings", {})
    lines = ["# SGS benchmark", ""]
    if results.get("regime"):
        lines += [
            "## Where do branches pay off? (regime sweep)",
            "",
            "Plain training against the ACB-style branched net (3x3 + 1x3 + 3x1, "
            "BN inside each branch), 3 paired seeds per setting; SGD momentum 0.9, "
            "cosine, weight decay 5e-4, batch 64; last epoch on the held-out rest.",
            "",
            "| setting | train | baseline | ACB-BN | ACB-BN − baseline (paired) | "
            "per-seed Δ | fit s (base / ACB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in results["regime"].items():
            d = r["deltas_vs_baseline"]["acb_bn"]
            lines.append(
                f"| {name} | {r['train_size']} | {r['baseline']['mean']:.4f} ± "
                f"{r['baseline']['std']:.4f} | {r['acb_bn']['mean']:.4f} ± "
                f"{r['acb_bn']['std']:.4f} | {d['mean']:+.4f} ± {d['std']:.4f} | "
                + ", ".join(f"{v:+.3f}" for v in d["values"])
                + f" | {r['fit_seconds']['baseline']['mean']:.0f} / "
                f"{r['fit_seconds']['acb_bn']['mean']:.0f} |"
            )
        lines += [""] + [
            f"- {name}: {_setting_text(r['setting'])}"
            for name, r in results["regime"].items()
        ]
        lines.append("")
    for name, r in results.get("chosen", {}).items():
        lines += [
            f"## Every arm in setting {name}",
            "",
            f"{_setting_text(r['setting'])}; {len(r['baseline']['values'])} paired "
            f"seeds, {r['train_size']} training images, {r['test_size']} test.",
            "",
            "| arm | accuracy mean ± std | Δ vs baseline (paired) | per-seed Δ | "
            "fit s |",
            "|---|---|---|---|---|",
        ]
        for arm in [a for a in ARMS if a in r]:
            d = r["deltas_vs_baseline"].get(arm)
            lines.append(
                f"| {arm} | {r[arm]['mean']:.4f} ± {r[arm]['std']:.4f} | "
                + (f"{d['mean']:+.4f} ± {d['std']:.4f}" if d else "—")
                + " | "
                + (", ".join(f"{v:+.3f}" for v in d["values"]) if d else "—")
                + f" | {r['fit_seconds'][arm]['mean']:.0f} |"
            )
        lines.append("")
    if "accuracy" in results:
        lines += [
            f"Seeds {s['seeds']} (paired: same split and init seed for every arm), "
            f"{s['max_epochs']} epochs, SGD momentum 0.9, lr 0.05 cosine, weight "
            "decay 5e-4, batch 64, SmallVGG widths (16, 32); accuracy of the last "
            "epoch on the held-out rest.",
            "",
            "| data | train/test | arm | accuracy mean ± std | Δ vs baseline "
            "(paired) | per-seed Δ |",
            "|---|---|---|---|---|---|",
        ]
        for name, arms in results["accuracy"].items():
            size = f"{arms['train_size']}/{arms['test_size']}"
            for arm in [a for a in ARMS if a in arms]:
                a = arms[arm]
                d = arms["deltas_vs_baseline"].get(arm)
                delta = f"{d['mean']:+.4f} ± {d['std']:.4f}" if d else "—"
                per_seed = ", ".join(f"{v:+.3f}" for v in d["values"]) if d else "—"
                lines.append(
                    f"| {name} | {size} | {arm} | {a['mean']:.4f} ± "
                    f"{a['std']:.4f} | {delta} | {per_seed} |"
                )
    if "cost" in results:
        lines += [
            "",
            f"Cost: seconds per epoch ({s['torch_threads']} torch "
            "threads, CPU), arms interleaved, median of 3 fits:",
            "",
            "| data | baseline | SGS-MI | ACB-BN | hand-written loop | "
            "SGS-MI / baseline | ACB-BN / baseline | wrapper / hand loop |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, c in results["cost"].items():
            t = {
                a: float(np.median(v["values"]))
                for a, v in c["seconds_per_epoch"].items()
            }
            hand = float(np.median(c["hand_loop_seconds_per_epoch"]["values"]))
            lines.append(
                f"| {name} | {t['baseline']:.3f} | {t['sgs_mi']:.3f} | "
                f"{t['acb_bn']:.3f} | {hand:.3f} | {c['sgs_mi_over_baseline']:.3f} | "
                f"{c['acb_bn_over_baseline']:.3f} | {c['wrapper_over_hand_loop']:.3f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
