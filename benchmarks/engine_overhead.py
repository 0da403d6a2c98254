"""Training-engine overhead: seconds per epoch of three cores trained through the
library's skorch engine (``base.make_net`` + ``base.fit_net``: divergence guard,
history, callbacks) against a hand-written PyTorch loop doing the same work (same
module, data, collate function, optimiser, clipping and schedule).

Cores: MulcoTagger's network on generated nested NER (variable-length sentence
batches), GENNAPE's encoder + heads on computation graphs (torch_geometric
batches), CAT-ART's BPR-MF (array batches with sampled negatives). Both sides run
interleaved, three times each; the median is reported. Run on an idle machine.

    python benchmarks/engine_overhead.py

Writes benchmarks/results/engine_overhead.md and .json.
"""

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_suite.base import (
    ItemDataset,
    fit_net,
    make_net,
    torch_seeded,
    warmup_decay,
)

RESULTS = Path(__file__).parent / "results"
EPOCHS = 5


def raw_loop(module, dataset, collate, criterion, lr, batch_size, epochs, clip=None,
             schedule=None, optimizer=torch.optim.Adam):  # fmt: skip
    """The same training in plain PyTorch."""
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, collate_fn=collate,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    opt = optimizer(module.parameters(), lr=lr)
    sched = warmup_decay(opt, **schedule) if schedule else None
    module.train()
    for _ in range(epochs):
        for X, y in loader:
            out = module(**X) if isinstance(X, dict) else module(X)
            loss = criterion(out, y)
            opt.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
            opt.step()
            if sched:
                sched.step()


def engine_loop(module, dataset, collate, criterion, lr, batch_size, epochs,
                clip=None, schedule=None, optimizer=torch.optim.Adam):  # fmt: skip
    net = make_net(
        module, stage="bench", seed=0, device="cpu", lr=lr, max_epochs=epochs,
        batch_size=batch_size, criterion=type(criterion), optimizer=optimizer,
        grad_clip=clip, schedule=schedule, collate=collate,
    )  # fmt: skip
    fit_net(net, dataset)


def mulco_core():
    from sklearn_suite import MulcoTagger
    from sklearn_suite.datasets import make_nested_ner
    from sklearn_suite.ner._base import SentenceCollate
    from sklearn_suite.ner._mulco import MulcoLoss, mulco_batch

    X, y = make_nested_ner(600, random_state=0)
    # one epoch to set the vocabulary and classes the module is built from
    tagger = MulcoTagger(hidden=64, emb_dim=64, latent=64, max_epochs=1).fit(X, y)
    data = ItemDataset(X, [tagger._targets(len(t), e) for t, e in zip(X, y)])
    total = EPOCHS * -(-len(X) // 32)

    return dict(
        build=tagger._build_module, dataset=data,
        collate=SentenceCollate(tagger.features_, mulco_batch),
        criterion=MulcoLoss(), lr=1e-2, batch_size=32, clip=5.0,
        schedule=dict(total_steps=total, warmup_steps=max(1, total // 100)),
        optimizer=torch.optim.AdamW,
    )  # fmt: skip


def gennape_core():
    from sklearn_suite.datasets import build_network, load_digits_nas
    from sklearn_suite.nas import to_graphs
    from sklearn_suite.nas._modules import GraphRegressor
    from sklearn_suite.nas._training import GraphCollate

    data = load_digits_nas(families=["cell201"])
    graphs = to_graphs([build_network(s) for s in data.specs[:200]], data.input_shape)
    u = np.ones((len(graphs), 1), dtype=np.float32)
    y = (data.target[:200] - data.target[:200].mean()) / data.target[:200].std()
    dataset = ItemDataset([(g, m) for g, m in zip(graphs, u)], y.astype(np.float32))
    return dict(
        build=lambda: GraphRegressor(1, 32, 6), dataset=dataset,
        collate=GraphCollate(extra=("membership",)), criterion=torch.nn.MSELoss(),
        lr=1e-3, batch_size=32, clip=5.0,
    )  # fmt: skip


def catart_mf_core():
    from sklearn_suite.datasets import make_cross_domain_interactions
    from sklearn_suite.recommend._base import InteractionIndex, NegativeSampler
    from sklearn_suite.recommend._modules import BPRMF
    from sklearn_suite.recommend._training import (
        BPRLoss,
        MFStage,
        NegativeCollate,
        bpr_rows,
    )

    frame = make_cross_domain_interactions(n_users=3000, random_state=0).train
    frame = frame[frame.domain == frame.domain.iloc[0]]
    index = InteractionIndex().fit(frame)
    u, i, _ = index.encode(frame)
    n_items = len(next(iter(index.items_.values())))
    sampler = NegativeSampler(u, i, n_items)
    return dict(
        build=lambda: MFStage(BPRMF(len(index.users_), n_items, 64), 1e-4),
        dataset=bpr_rows(u, i), collate=NegativeCollate(sampler, 0),
        criterion=BPRLoss(), lr=1e-3, batch_size=2048,
    )  # fmt: skip


CORES = {"Mulco (NER)": mulco_core, "GENNAPE (graphs)": gennape_core,
         "CAT-ART MF (BPR)": catart_mf_core}  # fmt: skip


def timed(fn, core):
    with torch_seeded(0):
        module = core["build"]()
    kwargs = {k: v for k, v in core.items() if k not in ("build", "dataset")}
    start = time.perf_counter()
    fn(module, core["dataset"], epochs=EPOCHS, **kwargs)
    return (time.perf_counter() - start) / EPOCHS


def main():
    RESULTS.mkdir(exist_ok=True)
    rows = {}
    for name, make in CORES.items():
        core = make()
        timed(raw_loop, core)  # warm-up
        raw, engine = [], []
        for _ in range(3):
            raw.append(timed(raw_loop, core))
            engine.append(timed(engine_loop, core))
        rows[name] = {
            "raw_s_per_epoch": float(np.median(raw)),
            "engine_s_per_epoch": float(np.median(engine)),
            "ratio": float(np.median(engine) / np.median(raw)),
            "batches_per_epoch": -(-len(core["dataset"]) // core["batch_size"]),
        }
        print(name, rows[name], flush=True)
    lines = [
        "# Training-engine overhead",
        "",
        f"Seconds per epoch, median of 3 interleaved runs of {EPOCHS} epochs, "
        f"{torch.get_num_threads()} torch threads, "
        f"{platform.processor() or platform.machine()}. Produced by "
        "`python benchmarks/engine_overhead.py`.",
        "",
        "| core | batches/epoch | hand-written loop | skorch engine | engine / loop |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['batches_per_epoch']} | {r['raw_s_per_epoch']:.3f} | "
            f"{r['engine_s_per_epoch']:.3f} | {r['ratio']:.3f} |"
        )
    (RESULTS / "engine_overhead.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "engine_overhead.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
