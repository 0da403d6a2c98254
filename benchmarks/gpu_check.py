"""GPU smoke run: every estimator fitted with ``device="cuda"`` at GPU-sized
settings (a few hundred optimiser steps each), then checked three ways:

* the fitted model's weights live on the GPU;
* it predicts and scores on the GPU;
* its joblib file loads on a machine without CUDA (simulated by hiding CUDA)
  and predicts there, with the largest difference to the GPU's predictions.

It is the one script to run whenever a GPU is lent (``bash dev.sh gpu`` runs the
CUDA-marked tests first, then this); it prints one table and writes
``benchmarks/results/gpu_check.md`` and ``.json``.

    python benchmarks/gpu_check.py                      # on the GPU
    python benchmarks/gpu_check.py --device cpu --tiny  # the same code paths on
                                                        # a CPU, tiny (a test runs it)
"""

import argparse
import io
import json
import platform
import time
import traceback
from pathlib import Path
from unittest import mock

import joblib
import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"


def _sgs(device, tiny):
    from sklearn_suite import SGSConvClassifier
    from sklearn_suite.datasets import load_digit_images

    X, y = load_digit_images(size=16 if tiny else 32, return_X_y=True)
    model = SGSConvClassifier(
        widths=(8,) if tiny else (64, 128), max_epochs=2 if tiny else 40,
        batch_size=64 if tiny else 256, device=device, random_state=0,
    )  # fmt: skip
    return model, (X[:1200], y[:1200]), (X[1200:], y[1200:]), "accuracy"


def _la3(device, tiny):
    from sklearn_suite import LabelAwareAugmenter
    from sklearn_suite.datasets import make_orientation_shapes

    X, y = make_orientation_shapes(
        140 if tiny else 1400, size=16 if tiny else 24, random_state=0,
        return_X_y=True,
    )  # fmt: skip
    model = LabelAwareAugmenter(
        proxy_max_epochs=1 if tiny else 30, n_init=2 if tiny else 20,
        n_rounds=1 if tiny else 20, queue_size=1 if tiny else 10,
        n_members=1 if tiny else 5, predictor_max_epochs=5 if tiny else 100,
        top_k=2 if tiny else 20, device=device, random_state=0,
    )  # fmt: skip
    return model, (X, y), None, "policy ops per label"


def _mulco(device, tiny):
    from sklearn_suite import MulcoTagger
    from sklearn_suite.datasets import make_nested_ner

    X, y = make_nested_ner(60 if tiny else 3000, random_state=0)
    X_test, y_test = make_nested_ner(30 if tiny else 500, random_state=1)
    size = 16 if tiny else 256
    model = MulcoTagger(
        emb_dim=size, hidden=size, latent=size, max_epochs=1 if tiny else 5,
        batch_size=16 if tiny else 64, device=device, random_state=0,
    )  # fmt: skip
    return model, (X, y), (X_test, y_test), "span F1"


def _nas_graphs(tiny):
    from sklearn_suite.datasets import build_network, load_digits_nas
    from sklearn_suite.nas import to_graphs

    data = load_digits_nas()
    n = 40 if tiny else len(data.target)
    graphs = to_graphs([build_network(s) for s in data.specs[:n]], data.input_shape)
    return graphs, np.asarray(data.target[:n], float), data


def _gennape(device, tiny):
    from sklearn_suite import GENNAPERegressor

    graphs, y, _ = _nas_graphs(tiny)
    split = len(y) * 3 // 4
    model = GENNAPERegressor(
        n_clusters=2, cl_max_epochs=1 if tiny else 20, max_epochs=2 if tiny else 30,
        finetune_max_epochs=1, width=24 if tiny else 128, batch_size=16 if tiny else 64,
        device=device, random_state=0,
    )  # fmt: skip
    return model, (graphs[:split], y[:split]), (graphs[split:], y[split:]), "R2"


def _aiop(device, tiny):
    from sklearn_suite import AIOPRegressor

    graphs, y, _ = _nas_graphs(tiny)
    split = len(y) * 3 // 4
    model = AIOPRegressor(
        max_epochs=2 if tiny else 30, adapter_max_epochs=1 if tiny else 10,
        finetune_max_epochs=1, width=24 if tiny else 128, batch_size=16 if tiny else 64,
        device=device, random_state=0,
    )  # fmt: skip
    return model, (graphs[:split], y[:split]), (graphs[split:], y[split:]), "R2"


def _catart(device, tiny):
    from sklearn_suite import CATARTRecommender
    from sklearn_suite.datasets import make_cross_domain_interactions

    data = make_cross_domain_interactions(n_users=300 if tiny else 5000, random_state=0)
    epochs = 1 if tiny else 20
    model = CATARTRecommender(
        n_factors=16 if tiny else 128, mf_max_epochs=epochs, cat_max_epochs=epochs,
        art_max_epochs=epochs, batch_size=256 if tiny else 4096, device=device,
        random_state=0,
    )  # fmt: skip
    return model, (data.train,), (data.test,), "NDCG@10"


def _recguru(device, tiny):
    from sklearn_suite import RecGURURecommender
    from sklearn_suite.datasets import make_cross_domain_sequences

    data = make_cross_domain_sequences(
        n_users=(100, 80) if tiny else (3000, 2000), overlap=0.1, random_state=0
    )
    model = RecGURURecommender(
        d_model=16 if tiny else 128, max_len=10 if tiny else 50,
        pretrain_steps=3 if tiny else 100, gan_steps=3 if tiny else 150,
        tune_steps=4 if tiny else 200, eval_every=2 if tiny else 50,
        batch_size=32 if tiny else 256, target_domain=1, device=device,
        random_state=0,
    )  # fmt: skip
    test = data.test[data.test.domain == 1]
    return model, (data.train,), (test,), "HR@10 (199 negatives)"


def _r5(device, tiny):
    from sklearn_suite import R5RuleLearner
    from sklearn_suite.datasets import make_kinship_stories

    train = make_kinship_stories(k=(2, 3), n=20 if tiny else 300, random_state=0)
    test = make_kinship_stories(k=4, n=20 if tiny else 100, random_state=1)
    model = R5RuleLearner(
        n_invented=9 if tiny else 27, n_playouts=4 if tiny else 50,
        max_epochs=1 if tiny else 2, device=device, random_state=0,
    )  # fmt: skip
    return model, (train.X, train.y), (test.X, test.y), "accuracy (k=4)"


def _glyphdraw(device, tiny):
    from sklearn_suite import GlyphDrawGenerator
    from sklearn_suite.datasets import make_glyph_scenes
    from sklearn_suite.generate import GlyphRecognizer

    size = 16 if tiny else 32
    scenes = make_glyph_scenes(64 if tiny else 4000, image_size=size, random_state=0)
    held = make_glyph_scenes(32, image_size=size, random_state=1)
    model = GlyphDrawGenerator(
        unet_channels=(8, 16) if tiny else (32, 64, 128),
        context_dim=16 if tiny else 128, base_steps=3 if tiny else 300,
        glyph_steps=3 if tiny else 300, num_inference_steps=3 if tiny else 25,
        batch_size=8 if tiny else 64,
        ocr_model=GlyphRecognizer(n_scenes=100, max_epochs=1) if tiny else None,
        device=device, random_state=0,
    )  # fmt: skip
    return model, (scenes,), (held[held.text != ""],), "OCR exact match"


CASES = {
    "SGSConvClassifier": _sgs,
    "LabelAwareAugmenter": _la3,
    "MulcoTagger": _mulco,
    "GENNAPERegressor": _gennape,
    "AIOPRegressor": _aiop,
    "CATARTRecommender": _catart,
    "RecGURURecommender": _recguru,
    "R5RuleLearner": _r5,
    "GlyphDrawGenerator": _glyphdraw,
}


def _outputs(model, test, train):
    """What the model predicts, and its score, for the comparison after loading."""
    if test is None:  # the sampler: its policy and one seeded augmentation
        X, y = train
        return model.augment(X[:16], y[:16], random_state=0), float(
            np.mean([len(ops) for ops in model.policy_.values()])
        )
    if hasattr(model, "read_text"):
        images, _ = model.read_text(test[0])
        return images, model.score(*test)
    return model.predict(test[0]), model.score(*test)


def _difference(a, b):
    if isinstance(a, np.ndarray) and a.dtype.kind in "fiu":
        # NaN marks what a model cannot score (a cold-start user): same on both
        if not np.array_equal(np.isnan(a.astype(float)), np.isnan(b.astype(float))):
            return float("inf")
        return float(np.nanmax(np.abs(a.astype(float) - b.astype(float)), initial=0))
    return 0.0 if np.array_equal(np.asarray(a, object), np.asarray(b, object)) else 1.0


def _on_device(model, device):
    tensors = []
    for value in [model, *vars(model).values()]:
        if isinstance(value, torch.nn.Module):
            tensors += list(value.parameters())
        net = getattr(value, "net_", None)  # a skorch net, also inside a proxy
        if net is not None:
            tensors += list(net.module_.parameters())
    if not tensors:
        return "n/a"
    return str(torch.device(device).type == tensors[0].device.type)


def run_case(name, device, tiny):
    """Fit one estimator and return its row of the table."""
    model, train, test, metric = CASES[name](device, tiny)
    start = time.perf_counter()
    model.fit(*train)
    fit_s = time.perf_counter() - start
    on_device = _on_device(model, device)
    start = time.perf_counter()
    outputs, score = _outputs(model, test, train)
    predict_s = time.perf_counter() - start
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    # a machine without CUDA: the file must load and predict there
    with mock.patch("torch.cuda.is_available", return_value=False):
        loaded = joblib.load(buffer)
        cpu_outputs, _ = _outputs(loaded, test, train)
    return {
        "estimator": name,
        "fit_s": round(fit_s, 1),
        "predict_s": round(predict_s, 1),
        "metric": metric,
        "score": round(float(score), 4),
        "weights_on_device": on_device,
        "loads_on_cpu": True,
        "max_diff_cpu": _difference(outputs, cpu_outputs),
    }


def _table(rows):
    cols = ["estimator", "fit_s", "predict_s", "metric", "score",
            "weights_on_device", "loads_on_cpu", "max_diff_cpu", "error"]  # fmt: skip
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny settings")
    parser.add_argument("--only", nargs="+", choices=list(CASES))
    parser.add_argument("--output", type=Path, default=RESULTS / "gpu_check")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("CUDA is not available here; pass --device cpu to try the script")
    rows = []
    for name in args.only or CASES:
        try:
            row = run_case(name, args.device, args.tiny)
        except Exception as exc:  # one failing estimator must not hide the others
            traceback.print_exc()
            row = {"estimator": name, "error": f"{type(exc).__name__}: {exc}"[:200]}
        rows.append(row)
        print(row, flush=True)
    device = (
        torch.cuda.get_device_name(args.device)
        if args.device.startswith("cuda")
        else platform.processor() or "cpu"
    )
    header = (
        f"# GPU check ({'tiny' if args.tiny else 'GPU-sized'} settings)\n\n"
        f"Device: {device}; torch {torch.__version__}. Produced by "
        "`python benchmarks/gpu_check.py` (`bash dev.sh gpu`).\n\n"
    )
    table = _table(rows)
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".md").write_text(header + table + "\n")
    args.output.with_suffix(".json").write_text(
        json.dumps({"device": device, "tiny": args.tiny, "rows": rows}, indent=1)
    )
    return int(any("error" in row for row in rows))


if __name__ == "__main__":
    raise SystemExit(main())
