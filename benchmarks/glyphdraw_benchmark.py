"""GlyphDraw benchmark: OCR accuracy at the box, forgetting, sampling time.

All models train from scratch on ``make_glyph_scenes`` (32 x 32 by default, 10
characters):

* ``base`` - the text-to-image base model (``stage="base"``), pretrained once and
  shared by every arm; as a generator it is the text-only baseline (the
  characters appear only in the caption, it gets no box);
* ``glyphdraw`` - the method (frozen base, cross-attention K/V + conv_in + fusion
  trained, 20% text-free images, loss weight 1.6 in the box), every setting at
  its default (the glyph channel shows the text in its box);
* ``glyphdraw_centre`` - the glyph channel centred on the canvas, as the
  released training script has it;
* ``no_glyph_channel`` / ``no_glyph_tokens`` - ablations;
* ``full_no_mixing`` - the whole UNet fine-tuned on text images only.

The ``glyphdraw`` arm is also sampled at several image-guidance scales ``s_I``
on validation prompts (``make_glyph_scenes(240, random_state=2)``, never the
held-out ones): the default ``s_I`` is chosen there. PP-OCR also reads those
samples in grey (a diagnostic of colour noise in the strokes, not a judge).

OCR accuracy = exact match of the characters read at the prompt's box on
held-out prompts, by two judges: the library's recogniser (trained here on
freshly rendered, augmented characters) and PP-OCRv4's Chinese recogniser, which
nobody here trained (``PPOCRReader``, from the rapidocr-onnxruntime wheel).
Forgetting = accuracy of background-colour and shape classifiers (small conv
nets trained on real text-free scenes, in --summarise) on images generated from
held-out text-free prompts. Sampling time per image at 25 DDIM steps on this
machine (one thread).

    python benchmarks/glyphdraw_benchmark.py                        # all, ~90 min
    python benchmarks/glyphdraw_benchmark.py --base                 # ~17 min
    python benchmarks/glyphdraw_benchmark.py --worker 0/2 &         # arms, ~55 min
    python benchmarks/glyphdraw_benchmark.py --worker 1/2
    python benchmarks/glyphdraw_benchmark.py --summarise
    python benchmarks/glyphdraw_benchmark.py --judges    # both judges on real scenes

A variant with other step counts and some arms keeps its own files, e.g. a base
trained three times longer::

    python benchmarks/glyphdraw_benchmark.py --tag long --base-steps 4500 \
        --glyph-steps 750 --arms glyphdraw,full_no_mixing

The GPU recipe (``--preset gpu``: 64 x 64 scenes, 8000 training scenes, UNet
widths 32/64/128, context 128, batch 128, base 3000 and GlyphDraw 2000 steps;
the glyphdraw and full_no_mixing arms) keeps its files under the tag ``gpu``. On
a lent GPU machine, where PP-OCR may be missing, ``bash dev.sh gpu-glyphdraw``
runs it; copy ``benchmarks/results/glyphdraw_gpu*`` back and finish here, where
PP-OCR reads the saved samples::

    python benchmarks/glyphdraw_benchmark.py --preset gpu --device cuda  # GPU
    python benchmarks/glyphdraw_benchmark.py --preset gpu --summarise    # here

Writes benchmarks/results/glyphdraw.json, glyphdraw.md and glyphdraw_samples.png
(partial results in glyphdraw.part.*.json and .npz, the held-out samples, and the
base model in glyphdraw_base.joblib, ignored by git).
"""

import argparse
import functools
import json
import os
import time
from pathlib import Path

import joblib
import numpy as np
import torch

from sklearn_suite import GlyphDrawGenerator
from sklearn_suite.datasets import GLYPH_ALPHABET, make_glyph_scenes
from sklearn_suite.datasets._glyph_scenes import box_crop, box_mask
from sklearn_suite.generate import GlyphRecognizer, PPOCRReader

RESULTS = Path(__file__).parent / "results"
N_HELD_OUT = 240
# --preset: scene size, training set, model settings and arms of a run. The gpu
# preset is sized by estimate, not yet measured, to train in about 8 minutes on
# one large GPU (--device cuda); its results keep their own files (tag "gpu").
PRESETS = {
    "cpu": dict(image_size=32, n_train=4000, params={}, arms=None),
    "gpu": dict(
        image_size=64,
        n_train=8000,
        params=dict(
            unet_channels=(32, 64, 128),
            context_dim=128,
            batch_size=128,
            base_steps=3000,
            glyph_steps=2000,
        ),
        arms=("glyphdraw", "full_no_mixing"),
    ),
}
# settings each part records, for its summary
RECORDED = (
    "base_steps",
    "glyph_steps",
    "guidance_text",
    "guidance_image",
    "eta",
    "unet_channels",
    "batch_size",
)
GUIDANCE_IMAGE = (2.0, 3.0, 5.0, 8.0)  # the validation sweep of s_I
NOISE_LEVELS = (10, 20, 30)  # grey levels of the judges' noise test
CURVE_EVERY = 250  # steps per point of the in-box loss curves
ARMS = {
    "glyphdraw": {"fit_mask_predictor": True},
    "glyphdraw_centre": {"glyph_placement": "centre"},
    "no_glyph_channel": {"glyph_channels": False},
    "no_glyph_tokens": {"glyph_tokens": False},
    "full_no_mixing": {"trainable": "all", "no_text_fraction": 0.0},
}


def scenes(args, n, random_state):
    return make_glyph_scenes(
        n, image_size=PRESETS[args.preset]["image_size"], random_state=random_state
    )


def data(args):
    train = scenes(args, PRESETS[args.preset]["n_train"], 0)
    held = scenes(args, args.held_out, 1)
    return train, held[held["text"] != ""], held[held["text"] == ""]


def attribute_classifiers(train):
    """Background colour and shape of real text-free scenes, each learned by a
    small conv net (the library's SGSConvClassifier without scaling)."""
    from sklearn_suite import SGSConvClassifier

    plain = train[train["text"] == ""]
    images = _as_float(np.stack(plain["image"].to_numpy()))
    return {
        attribute: SGSConvClassifier(scaling=None, max_epochs=12, random_state=0).fit(
            images, plain[attribute].to_numpy()
        )
        for attribute in ("background", "shape")
    }


def _as_float(images):
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0


def attribute_accuracy(classifiers, images, prompts):
    images = _as_float(np.asarray(images, dtype=np.uint8))
    return {
        attribute: float(np.mean(clf.predict(images) == prompts[attribute].to_numpy()))
        for attribute, clf in classifiers.items()
    }


def box_ink_contrast(images, boxes):
    """Placement indicator: mean distance of a pixel from the image's median
    colour inside the prompt's box minus outside it (grey levels)."""
    out = []
    for image, box in zip(np.asarray(images, dtype=float), boxes):
        inside = box_mask(box, image.shape[0]).astype(bool)
        distance = np.abs(image - np.median(image.reshape(-1, 3), 0)).mean(-1)
        out.append(distance[inside].mean() - distance[~inside].mean())
    return float(np.mean(out))


@functools.cache
def ppocr_reader():
    """One PP-OCR session per process (loading its ONNX models takes a second)."""
    return PPOCRReader()


def exact(read, truth):
    return float(np.mean([r == t for r, t in zip(read, truth, strict=True)]))


def ppocr_exact(images, boxes, truth):
    """PP-OCR's exact match on ``images``; None where rapidocr-onnxruntime is
    missing (a GPU machine), for --summarise to measure here from the saved
    samples."""
    try:
        reader = ppocr_reader()
    except ImportError:
        return None
    return exact(reader.read(images, list(boxes), [len(t) for t in truth]), truth)


def evaluate(model, name, text_prompts, plain_prompts, images_path):
    """Both judges, forgetting and timing of ``model`` on the held-out prompts;
    the text prompts' samples are saved to ``images_path`` (.npz)."""
    t0 = time.perf_counter()
    images, read = model.read_text(text_prompts)
    seconds = (time.perf_counter() - t0) / len(text_prompts)
    np.savez_compressed(images_path, images=images)
    truth = list(text_prompts["text"])
    plain_images = model.predict(plain_prompts)
    by_length = {
        str(n): float(np.mean([r == t for r, t in zip(read, truth) if len(t) == n]))
        for n in (1, 2)
    }
    extra = {}
    if getattr(model, "mask_predictor_", None) is not None:
        # no box given: the mask predictor places the text; read it there
        images_free, boxes = model._generate(text_prompts.assign(box=None))
        read_free = model.ocr_model_.read(images_free, boxes, [len(t) for t in truth])
        extra["ocr_accuracy_predicted_box"] = float(
            np.mean([r == t for r, t in zip(read_free, truth)])
        )
        extra["predicted_box_area"] = float(
            np.mean([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes])
        )
    return {
        **extra,
        "arm": name,
        "settings": {k: v for k, v in model.get_params().items() if k in RECORDED},
        "ocr_accuracy": exact(read, truth),
        "ocr_accuracy_ppocr": ppocr_exact(images, text_prompts["box"], truth),
        "ocr_accuracy_by_length": by_length,
        "char_accuracy": float(
            np.mean([a == b for r, t in zip(read, truth) for a, b in zip(r, t)])
        ),
        "plain_images": plain_images.tolist(),
        "seconds_per_image": seconds,
        "samples": images[:16].tolist(),
    }


def validation_prompts(args):
    """Prompts with text of the validation scenes (never the held-out ones)."""
    val = scenes(args, args.held_out, 2)
    return val[val["text"] != ""]


def validation_readings(model, prompts):
    """Both judges' exact match on ``model``'s samples of ``prompts``, and PP-OCR
    on the samples turned grey (a diagnostic of colour noise in the strokes), with
    the sampling time per image."""
    truth, boxes = list(prompts["text"]), list(prompts["box"])
    t0 = time.perf_counter()
    images, read = model.read_text(prompts)
    seconds = (time.perf_counter() - t0) / len(prompts)
    grey = np.repeat(np.mean(images, -1, keepdims=True), 3, -1).astype(np.uint8)
    return {
        "ocr_accuracy": exact(read, truth),
        "ocr_accuracy_ppocr": ppocr_exact(images, boxes, truth),
        "ocr_accuracy_ppocr_grey": ppocr_exact(grey, boxes, truth),
        "seconds_per_image": seconds,
    }


def guidance_sweep(model, args):
    """Validation readings at each s_I of GUIDANCE_IMAGE."""
    prompts, own, out = validation_prompts(args), model.guidance_image, {}
    for scale in GUIDANCE_IMAGE:
        model.set_params(guidance_image=scale)
        out[f"{scale:g}"] = validation_readings(model, prompts)
    model.set_params(guidance_image=own)
    return out


def loss_curve(history):
    """Mean in-box denoising error over each CURVE_EVERY steps of a stage."""
    box_loss = np.asarray(history[:, "box_loss"], dtype=float)
    return [
        float(np.nanmean(box_loss[i : i + CURVE_EVERY]))
        for i in range(0, len(box_loss), CURVE_EVERY)
    ]


def result_path(args, name):
    """``glyphdraw[_TAG]NAME`` in the results folder (``--tag`` keeps a
    variant's files apart from the default run's)."""
    stem = f"glyphdraw_{args.tag}" if args.tag else "glyphdraw"
    return RESULTS / (stem + name)


def model_params(args):
    """The preset's settings, the steps a run overrides, and the device."""
    steps = {"base_steps": args.base_steps, "glyph_steps": args.glyph_steps}
    return {
        **PRESETS[args.preset]["params"],
        **{k: v for k, v in steps.items() if v is not None},
        "device": args.device,
    }


def run_base(args):
    torch.set_num_threads(args.threads)
    train, held_text, held_plain = data(args)
    t0 = time.perf_counter()
    base = GlyphDrawGenerator(
        stage="base", verbose=1, random_state=0, **model_params(args)
    ).fit(train)
    fit_seconds = time.perf_counter() - t0
    joblib.dump(base, result_path(args, "_base.joblib"))
    torch.set_num_threads(1)
    result = evaluate(
        base, "base", held_text, held_plain, result_path(args, ".part.base.npz")
    )
    result["fit_seconds"] = fit_seconds
    result["box_loss_curve"] = loss_curve(base.history_["base"])
    # ceilings: the recogniser and the attribute classifiers on real held-out images
    real, truth = np.stack(held_text["image"].to_numpy()), list(held_text["text"])
    lengths = [len(t) for t in truth]
    result["real_images"] = {
        "ocr_accuracy": exact(
            base.ocr_model_.read(real, list(held_text["box"]), lengths), truth
        ),
        "ocr_accuracy_ppocr": ppocr_exact(real, held_text["box"], truth),
        "recogniser_clean_cell_accuracy": base.ocr_model_.clean_accuracy_,
    }
    result_path(args, ".part.base.json").write_text(json.dumps(result))


def run_arms(args):
    torch.set_num_threads(1)
    index, total = map(int, args.worker.split("/"))
    train, held_text, held_plain = data(args)
    base = joblib.load(result_path(args, "_base.joblib"))
    arms = {name: ARMS[name] for name in args.arms}
    for i, (name, params) in enumerate(arms.items()):
        if i % total != index:
            continue
        t0 = time.perf_counter()
        model = GlyphDrawGenerator(
            base_model=base,
            ocr_model=base.ocr_model_,
            verbose=1,
            random_state=0,
            **{**model_params(args), **params},
        ).fit(train)
        fit_seconds = time.perf_counter() - t0
        result = evaluate(
            model, name, held_text, held_plain, result_path(args, f".part.{name}.npz")
        )
        result["fit_seconds"] = fit_seconds
        history = model.history_["glyphdraw"]
        result["final_loss"] = float(np.mean(history[-100:, "train_loss"]))
        result["box_loss_curve"] = loss_curve(history)
        result["n_trainable"] = int(
            sum(
                p.numel()
                for n, p in [
                    *model.unet_.named_parameters(),
                    *model.fusion_.named_parameters(),
                ]
                if any(n == t.split(".", 1)[1] for t in model.trainable_param_names_)
            )
        )
        if name == "glyphdraw":
            result["guidance_validation"] = guidance_sweep(model, args)
        result_path(args, f".part.{name}.json").write_text(json.dumps(result))
        print(name, {k: result[k] for k in ("ocr_accuracy", "fit_seconds")})


def recorded(parts, key, arms_only=False):
    """A setting as the parts recorded it when sampled (the stage steps and
    s_I of the GlyphDraw arms mean nothing for the base)."""
    default = GlyphDrawGenerator().get_params()[key]  # parts that predate the key
    values = {
        json.dumps(part["settings"].get(key, default))
        for name, part in parts.items()
        if not (arms_only and name == "base")
    }
    if len(values) != 1:
        raise ValueError(f"the parts were run with different {key}: {values}")
    return json.loads(values.pop())


def summarise(args):
    parts = {}
    for name in ["base", *ARMS]:
        path = result_path(args, f".part.{name}.json")
        if path.exists():
            parts[name] = json.loads(path.read_text())
    samples = {
        name: np.asarray(part.pop("samples"), dtype=np.uint8)
        for name, part in parts.items()
    }
    train, held_text, held_plain = data(args)
    truth = list(held_text["text"])
    for name, part in parts.items():  # PP-OCR missing where the run was made
        saved = result_path(args, f".part.{name}.npz")
        if part.get("ocr_accuracy_ppocr") is None and saved.exists():
            images = np.load(saved)["images"]
            part["ocr_accuracy_ppocr"] = ppocr_exact(images, held_text["box"], truth)
    real = parts.get("base", {}).get("real_images")
    if real is not None and real.get("ocr_accuracy_ppocr") is None:
        images = np.stack(held_text["image"].to_numpy())
        real["ocr_accuracy_ppocr"] = ppocr_exact(images, held_text["box"], truth)
    for name, part in parts.items():
        part["box_ink_contrast"] = box_ink_contrast(samples[name], held_text["box"])
    parts.setdefault("base", {}).setdefault("real_images", {})
    parts["base"]["real_images"]["box_ink_contrast"] = box_ink_contrast(
        np.stack(held_text["image"].to_numpy())[:16], held_text["box"]
    )
    classifiers = attribute_classifiers(train)
    for part in parts.values():
        part["forgetting"] = attribute_accuracy(
            classifiers, part.pop("plain_images"), held_plain
        )
    if "real_images" in parts.get("base", {}):
        parts["base"]["real_images"]["forgetting"] = attribute_accuracy(
            classifiers, np.stack(held_plain["image"].to_numpy()), held_plain
        )
    chance = float(np.mean([0.1 ** len(t) for t in held_text["text"]]))
    result_path(args, ".json").write_text(
        json.dumps({"chance": chance, "arms": parts}, indent=1)
    )
    base = parts.get("base", {})
    preset = PRESETS[args.preset]
    size = preset["image_size"]
    lines = [
        "# GlyphDraw benchmark",
        "",
        f"Preset {args.preset}: {size} x {size} scenes, {preset['n_train']} training "
        f"scenes (half with 1-2 of 10 characters), {args.held_out} held-out scenes; "
        f"UNet widths {tuple(recorded(parts, 'unet_channels'))}, base "
        f"{recorded(parts, 'base_steps')} steps, GlyphDraw stage "
        f"{recorded(parts, 'glyph_steps', True)} steps, batch "
        f"{recorded(parts, 'batch_size')}, v-prediction, "
        f"25 DDIM steps with eta {recorded(parts, 'eta'):g}, guidance s_T "
        f"{recorded(parts, 'guidance_text'):g}, "
        f"s_I {recorded(parts, 'guidance_image', True):g}; one seed. OCR = exact "
        "match of the text "
        "read at the prompt's box by the independent recogniser "
        f"(chance {chance:.3f}). Background / shape accuracy of an attribute "
        "classifier on images generated from held-out text-free prompts "
        "(forgetting). Ink in box = mean distance from the image's median colour "
        "inside the prompt's box minus outside (grey levels; first 16 text "
        "prompts; a placement indicator).",
        "",
        "| arm | OCR exact | PP-OCR exact | OCR 1 char | OCR 2 chars | char acc "
        "| ink in box | background acc | shape acc | s / image | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cells(values):
        return "| " + " | ".join(values) + " |"

    def ppocr(part):  # parts measured before the second judge have none
        value = part.get("ocr_accuracy_ppocr")
        return "n/a" if value is None else f"{value:.3f}"

    for name, part in parts.items():
        by_length = part["ocr_accuracy_by_length"]
        lines.append(
            cells(
                [
                    name,
                    f"{part['ocr_accuracy']:.3f}",
                    ppocr(part),
                    f"{by_length['1']:.3f}",
                    f"{by_length['2']:.3f}",
                    f"{part['char_accuracy']:.3f}",
                    f"{part['box_ink_contrast']:.1f}",
                    f"{part['forgetting']['background']:.3f}",
                    f"{part['forgetting']['shape']:.3f}",
                    f"{part['seconds_per_image']:.2f}",
                    f"{part['fit_seconds']:.0f}",
                ]
            )
        )
    if "real_images" in base:
        real = base["real_images"]
        lines.append(
            cells(
                [
                    "real images (ceiling)",
                    f"{real['ocr_accuracy']:.3f}",
                    ppocr(real),
                    "",
                    "",
                    "",
                    f"{real['box_ink_contrast']:.1f}",
                    f"{real['forgetting']['background']:.3f}",
                    f"{real['forgetting']['shape']:.3f}",
                    "",
                    "",
                ]
            )
        )
    for name, part in parts.items():
        if "ocr_accuracy_predicted_box" in part:
            lines += [
                "",
                f"{name} with no box given (the mask predictor places the text): "
                "OCR exact at the predicted box "
                f"{part['ocr_accuracy_predicted_box']:.3f}, mean predicted box "
                f"area {part['predicted_box_area']:.2f} of the image.",
            ]
        if "guidance_validation" in part:
            sweep = part["guidance_validation"]
            lines += [
                "",
                f"{name} at other image-guidance scales s_I, on validation prompts "
                "(random_state=2; the default s_I is chosen here). PP-OCR grey = "
                "PP-OCR on the samples turned grey, a diagnostic of colour noise "
                "in the strokes:",
                "",
                "| s_I | OCR exact | PP-OCR exact | PP-OCR grey |",
                "|---|---|---|---|",
                *(
                    cells(
                        [
                            scale,
                            *(
                                "n/a" if r[k] is None else f"{r[k]:.3f}"
                                for k in (
                                    "ocr_accuracy",
                                    "ocr_accuracy_ppocr",
                                    "ocr_accuracy_ppocr_grey",
                                )
                            ),
                        ]
                    )
                    for scale, r in sweep.items()
                ),
            ]
    curves = {n: p["box_loss_curve"] for n, p in parts.items() if "box_loss_curve" in p}
    if curves:
        width = max(map(len, curves.values()))
        lines += [
            "",
            f"In-box denoising error (unweighted v-MSE inside the box, mean over each "
            f"{CURVE_EVERY} steps of the arm's own stage; the base's is its "
            "pretraining):",
            "",
            "| arm | "
            + " | ".join(f"steps {i * CURVE_EVERY + 1}-" for i in range(width))
            + " |",
            "|---|" + "---|" * width,
        ]
        for name, curve in curves.items():
            lines.append(cells([name, *(f"{v:.3f}" for v in curve)]))
    result_path(args, ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if samples:
        from sklearn_suite.generate import plot_samples

        plot_samples(held_text, samples, result_path(args, "_samples.png"))


def run_judges():
    """Both judges on the real held-out scenes: the ceiling of OCR at the box."""
    held = make_glyph_scenes(N_HELD_OUT, random_state=1)
    text = held[held["text"] != ""]
    images, boxes = np.stack(text["image"].to_numpy()), list(text["box"])
    lengths, truth = text["text"].str.len(), text["text"].to_numpy()
    stacked = np.array([not box_crop(im, b)[1] for im, b in zip(images, boxes)])
    t0 = time.perf_counter()
    # fitted as GlyphDrawGenerator fits its own (alphabet, size, seed 0)
    ours = GlyphRecognizer(alphabet=GLYPH_ALPHABET, image_size=32).fit()
    fit_seconds = time.perf_counter() - t0
    result = {"n_boxes": len(text), "stacked": int(stacked.sum())}
    for name, judge in [("recogniser", ours), ("ppocr", ppocr_reader())]:
        t0 = time.perf_counter()
        read = np.array(judge.read(images, boxes, lengths))
        result[name] = {
            "exact": exact(read, truth),
            "exact_side_by_side": exact(read[~stacked], truth[~stacked]),
            "exact_stacked": exact(read[stacked], truth[stacked]),
            "exact_by_length": {
                str(n): exact(read[lengths == n], truth[lengths == n]) for n in (1, 2)
            },
            "seconds_per_box": (time.perf_counter() - t0) / len(text),
        }
    result["recogniser"]["fit_seconds"] = fit_seconds
    # how much pixel noise each judge tolerates (generated strokes are noisy)
    rng = np.random.RandomState(0)
    result["noise"] = {}
    for sd in NOISE_LEVELS:
        noisy = np.clip(images + rng.normal(0, sd, images.shape), 0, 255)
        noisy = noisy.astype(np.uint8)
        result["noise"][str(sd)] = {
            name: exact(judge.read(noisy, boxes, lengths), truth)
            for name, judge in [("recogniser", ours), ("ppocr", ppocr_reader())]
        }
    (RESULTS / "glyphdraw_judges.json").write_text(json.dumps(result, indent=1))
    lines = [
        "# OCR judges on real scenes",
        "",
        "Generated by `benchmarks/glyphdraw_benchmark.py --judges`: the "
        f"{len(text)} held-out real scenes with text ({int(stacked.sum())} stacked) "
        "of the GlyphDraw benchmark (`make_glyph_scenes(240, random_state=1)`, "
        "32 x 32), read at their boxes. The library's recogniser is trained here "
        f"({fit_seconds:.0f} s); PP-OCRv4's was not. This is the ceiling of OCR "
        "exact match for generated images.",
        "",
        "| judge | exact | side by side | stacked | 1 char | 2 chars | s / box |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("recogniser", "ppocr"):
        r = result[name]
        lines.append(
            f"| {name} | {r['exact']:.3f} | {r['exact_side_by_side']:.3f} | "
            f"{r['exact_stacked']:.3f} | {r['exact_by_length']['1']:.3f} | "
            f"{r['exact_by_length']['2']:.3f} | {r['seconds_per_box']:.3f} |"
        )
    lines += [
        "",
        "Exact match with Gaussian pixel noise added (standard deviation in grey "
        "levels):",
        "",
        "| judge | " + " | ".join(f"sd {sd}" for sd in NOISE_LEVELS) + " |",
        "|---|" + "---|" * len(NOISE_LEVELS),
    ]
    for name in ("recogniser", "ppocr"):
        values = [result["noise"][str(sd)][name] for sd in NOISE_LEVELS]
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    (RESULTS / "glyphdraw_judges.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--base", action="store_true", help="train the shared base model"
    )
    parser.add_argument("--worker", help="i/n: run every n-th arm starting at i")
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("THREADS", 2))
    )
    parser.add_argument("--summarise", action="store_true")
    parser.add_argument(
        "--arms", type=lambda s: s.split(","), help="default: the preset's, or all"
    )
    parser.add_argument("--base-steps", type=int, help="instead of the default")
    parser.add_argument("--glyph-steps", type=int, help="instead of the default")
    parser.add_argument("--tag", help="suffix of this variant's result files")
    parser.add_argument("--preset", choices=list(PRESETS), default="cpu")
    parser.add_argument("--device", default="cpu", help="e.g. cuda")
    parser.add_argument(
        "--held-out", type=int, default=N_HELD_OUT, help="scenes (smoke runs: few)"
    )
    parser.add_argument(
        "--judges", action="store_true", help="both OCR judges on real scenes"
    )
    args = parser.parse_args()
    if args.tag is None and args.preset != "cpu":
        args.tag = args.preset
    args.arms = args.arms or list(PRESETS[args.preset]["arms"] or ARMS)
    if args.judges:
        run_judges()
        return
    everything = not (args.base or args.worker or args.summarise)
    if args.base or everything:
        run_base(args)
    if args.worker or everything:
        args.worker = args.worker or "0/1"
        run_arms(args)
    if args.summarise or everything:
        summarise(args)


if __name__ == "__main__":
    main()
