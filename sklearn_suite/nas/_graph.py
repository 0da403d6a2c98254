"""Computation graphs (CGs) of any ``nn.Module``, recorded from one forward pass.

A CG has one node per primitive operation (conv, batchnorm, relu, add, concat, ...),
directed data-flow edges, and per-node features: the op label, the
``(Hin, Hout, Win, Wout, Cin, Cout)`` resolution divided by fixed global constants,
and for weighted nodes (conv, depthwise, linear) the kernel size and a bias flag.
Reshape-like nodes (flatten, view, getitem, dropout, ...) are pruned and their
parents wired to their children, as in GENNAPE's TensorFlow pipeline.
"""

import contextlib
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves, tree_map

# GENNAPE's primitive-op vocabulary (31 labels, out-of-vocabulary first)
VOCAB = (
    "<OOV>", "input", "output", "conv", "depthwise", "batchnorm", "relu", "relu6",
    "matmul", "add", "mul", "concat", "maxpool", "avgpool", "sigmoid", "tanh",
    "swish", "gelu", "paddings", "mean", "spacetobatchnd", "batchtospacend",
    "spacetodepthnd", "depthtospacend", "global", "identity", "zero",
    "reserved1", "reserved2", "reserved3", "reserved4",
)  # fmt: skip
OP_INDEX = {name: i for i, name in enumerate(VOCAB)}
WEIGHTED_OPS = ("conv", "depthwise", "matmul")
# fixed normalisation constants of GENNAPE's classification domain config
MAX_HW = 256
MAX_CHANNELS = 512
# kernel sizes 0..MAX_KERNEL get their own embedding row; 0 marks a linear layer
MAX_KERNEL = 15
PRUNED = "<pruned>"

_MODULE_LABELS = [
    (nn.Linear, "matmul"),
    ((nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d), "batchnorm"),
    (nn.ReLU6, "relu6"),
    (nn.ReLU, "relu"),
    ((nn.SiLU, nn.Hardswish), "swish"),
    ((nn.Sigmoid, nn.Hardsigmoid), "sigmoid"),
    (nn.Tanh, "tanh"),
    (nn.GELU, "gelu"),
    ((nn.MaxPool2d, nn.AdaptiveMaxPool2d), "maxpool"),
    (nn.AvgPool2d, "avgpool"),
    ((nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d), "paddings"),
    (nn.Identity, "identity"),
    (nn.PixelShuffle, "depthtospacend"),
    (nn.PixelUnshuffle, "spacetodepthnd"),
    ((nn.Flatten, nn.Unflatten, nn.Dropout, nn.Dropout2d, nn.AlphaDropout), PRUNED),
]
_FUNCTION_LABELS = {
    torch.add: "add", torch.sub: "add", torch.mul: "mul",
    torch.cat: "concat", torch.concat: "concat",
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu6",
    F.silu: "swish", F.hardswish: "swish",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", F.hardsigmoid: "sigmoid",
    torch.tanh: "tanh", F.tanh: "tanh", F.gelu: "gelu",
    F.max_pool2d: "maxpool", F.adaptive_max_pool2d: "maxpool",
    F.avg_pool2d: "avgpool", torch.mean: "mean", F.pad: "paddings",
    F.conv2d: "conv", F.linear: "matmul", F.batch_norm: "batchnorm",
    torch.flatten: PRUNED, torch.reshape: PRUNED, F.dropout: PRUNED,
    torch.squeeze: PRUNED, torch.unsqueeze: PRUNED,
}  # fmt: skip
# tensor methods by name (x + y arrives as Tensor.add, x[i] as __getitem__)
_METHOD_LABELS = {
    "add": "add", "add_": "add", "__radd__": "add", "sub": "add", "sub_": "add",
    "__rsub__": "add", "mul": "mul", "mul_": "mul", "__rmul__": "mul",
    "mean": "mean", "relu": "relu", "relu_": "relu", "sigmoid": "sigmoid",
    "tanh": "tanh", "view": PRUNED, "reshape": PRUNED, "flatten": PRUNED,
    "contiguous": PRUNED, "squeeze": PRUNED, "unsqueeze": PRUNED,
    "__getitem__": PRUNED, "__get__": PRUNED,  # x.T, x.data
}  # fmt: skip


class GraphConversionError(ValueError):
    """A module could not be turned into a computation graph."""


# tracing refuses networks whose activations for one input exceed this
MAX_TRACE_BYTES = 2 * 1024**3
# inputs above this many values are traced with fake tensors (shapes only)
REAL_TRACE_VALUES = 2**20
# reading a tensor's values in forward means the graph depends on the input
_VALUE_READS = {
    torch.Tensor.__bool__, torch.Tensor.item, torch.Tensor.tolist,
    torch.Tensor.__int__, torch.Tensor.__float__,
}  # fmt: skip


class _DataDependent(Exception):
    pass


class _Op:
    """One recorded call: its label, the ops that produced its tensor inputs, the
    shapes it read and wrote, and ``(k1, k2, has_bias, groups)`` when weighted."""

    __slots__ = ("label", "parents", "in_shape", "out_shape", "weight", "source")

    def __init__(self, label, parents, in_shape, out_shape, weight, source):
        self.label, self.parents, self.weight = label, parents, weight
        self.in_shape, self.out_shape, self.source = in_shape, out_shape, source


def _tensors(value):
    return [t for t in tree_leaves(value) if isinstance(t, torch.Tensor)]


def _fresh(out, inputs):
    """``out`` with any tensor that is also an input replaced by a new view of it
    (``nn.Identity``, in-place ops and no-op reshapes return their input): data
    flow follows tensor identity, and the input must keep its own producer, as
    a new node in a traced graph would."""
    if not any(o is i for o in _tensors(out) for i in inputs):
        return out
    return tree_map(lambda t: t.view_as(t) if any(t is i for i in inputs) else t, out)


def _is_leaf(module):
    """torch.nn layers are leaves (as in torch.fx), and so is any module
    named after a vocabulary word (``Zero``, ``Identity``), so NAS ``none`` ops
    become ``zero`` nodes."""
    if type(module).__name__.lower() in OP_INDEX:
        return True
    origin = type(module).__module__
    return origin.startswith(("torch.nn", "torch.ao.nn")) and not isinstance(
        module, nn.Sequential
    )


class _Recorder(TorchFunctionMode):
    """Records a forward pass as a list of ops in one run: torch functions and
    tensor methods through this mode, leaf modules through global module hooks
    (the calls inside a leaf are not recorded). Data flow follows tensor identity:
    every recorded output tensor remembers the op that produced it."""

    def __init__(self, leaves):
        super().__init__()
        self.leaves = leaves  # ids of the leaf modules
        self.depth = 0  # > 0 inside a leaf module
        self.ops = []
        self.producer = {}  # id(tensor) -> _Op
        self.alive = []  # keeps recorded tensors alive, so their ids stay unique

    def add(self, label, inputs, outputs, weight=None, source=None):
        parents = []
        for t in inputs:
            op = self.producer.get(id(t))
            if op is not None and op not in parents:
                parents.append(op)
        shape = tuple(outputs[0].shape) if outputs else None
        in_shape = tuple(inputs[0].shape) if inputs else shape
        op = _Op(label, parents, in_shape, shape, weight, source)
        self.ops.append(op)
        for t in outputs:
            self.producer[id(t)] = op
        self.alive.append(outputs)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.depth == 0 and func in _VALUE_READS:
            raise _DataDependent(getattr(func, "__name__", str(func)))
        out = func(*args, **kwargs)
        if self.depth or not _tensors(out):  # inside a leaf, or a shape query
            return out
        inputs = _tensors((args, kwargs))
        out = _fresh(out, inputs)
        label = _function_label(func, args, kwargs)
        weight = _function_weight(func, args, kwargs) if label in WEIGHTED_OPS else None
        self.add(label, inputs, _tensors(out), weight, func)
        return out

    def pre_hook(self, module, args):
        if self.depth or id(module) in self.leaves:
            self.depth += 1

    def post_hook(self, module, args, out):
        if not self.depth:
            return None
        if self.depth == 1:  # leaving a leaf: record it
            inputs = _tensors(args)
            out = _fresh(out, inputs)  # (still inside, so not recorded as a call)
            label = _module_label(module)
            weight = _module_weight(module) if label in WEIGHTED_OPS else None
            self.add(label, inputs, _tensors(out), weight, type(module))
        self.depth -= 1
        return out


def _record(module, input_shape):
    """The ops of one forward pass of ``module`` on a zero input. Large inputs run
    with fake tensors, which compute shapes without computing or allocating
    anything, so that a network too large to trace is refused before it runs
    (:func:`_check_activation_memory`)."""
    from torch.nn.modules.module import (
        register_module_forward_hook,
        register_module_forward_pre_hook,
    )

    recorder = _Recorder({id(m) for m in module.modules() if _is_leaf(m)})
    hooks = [
        register_module_forward_pre_hook(recorder.pre_hook),
        register_module_forward_hook(recorder.post_hook),
    ]
    fake = math.prod(input_shape) > REAL_TRACE_VALUES
    try:
        with torch.no_grad(), contextlib.ExitStack() as stack:
            if fake:
                from torch._subclasses.fake_tensor import FakeTensorMode

                stack.enter_context(FakeTensorMode(allow_non_fake_inputs=True))
            x = torch.zeros((1, *input_shape))
            recorder.add("input", [x], [x])
            with recorder:
                out = module(x)
            recorder.add("output", _tensors(out), _tensors(out))
    finally:
        for hook in hooks:
            hook.remove()
    return recorder.ops


def _check_activation_memory(ops, input_shape, name):
    """Refuse a network whose activations for one input would not fit in memory
    (the recorded shapes are known without running it)."""
    total = 4 * sum(math.prod(op.out_shape) for op in ops if op.out_shape)
    if total > MAX_TRACE_BYTES:
        raise GraphConversionError(
            f"{name} at input_shape={input_shape} holds {total / 1024**3:.1f} GiB of "
            f"activations for one input, over the {MAX_TRACE_BYTES / 1024**3:.0f} "
            "GiB limit of tracing; pass a smaller input_shape."
        )


def _module_label(module):
    name = type(module).__name__.lower()
    if name in OP_INDEX:
        return name
    if isinstance(module, nn.Conv2d):
        if module.groups > 1 and module.groups == module.in_channels:
            return "depthwise"
        return "conv"
    if isinstance(module, nn.AdaptiveAvgPool2d):
        size = module.output_size
        return "mean" if size in (1, (1, 1)) else "avgpool"
    for cls, label in _MODULE_LABELS:
        if isinstance(module, cls):
            return label
    return "<OOV>"


def _function_label(func, args, kwargs):
    if func is F.adaptive_avg_pool2d:
        size = args[1] if len(args) > 1 else kwargs["output_size"]
        return "mean" if size in (1, (1, 1)) else "avgpool"
    if func is F.conv2d:
        return "depthwise" if _conv_groups(args, kwargs) > 1 else "conv"
    label = _FUNCTION_LABELS.get(func)
    if label is None:  # a tensor method or attribute
        label = _METHOD_LABELS.get(getattr(func, "__name__", None))
    return label or "<OOV>"


def _conv_groups(args, kwargs):
    return kwargs.get("groups", args[6] if len(args) > 6 else 1)


def _module_weight(module):
    """(k1, k2, has_bias, groups) of a weighted layer."""
    if isinstance(module, nn.Linear):
        return 0, 0, module.bias is not None, 1
    k1, k2 = module.kernel_size
    return k1, k2, module.bias is not None, module.groups


def _function_weight(func, args, kwargs):
    bias = args[2] if len(args) > 2 else kwargs.get("bias")
    if func is F.linear:
        return 0, 0, bias is not None, 1
    weight_shape = args[1].shape
    return (
        weight_shape[2],
        weight_shape[3],
        bias is not None,
        _conv_groups(args, kwargs),
    )


def _hwc(shape):
    """(H, W, C) of an NCHW, NCL or NC tensor shape."""
    if shape is None or len(shape) < 2:
        return None
    if len(shape) == 2:
        return 1, 1, shape[1]
    if len(shape) == 3:
        return shape[2], 1, shape[1]
    return shape[2], shape[3], shape[1]


def to_graph(module, input_shape, oov_threshold=0.1):
    """Trace ``module`` into a computation graph.

    One forward pass on a zero input (in eval mode, without gradients) records
    every torch function, tensor method and ``torch.nn`` layer it calls, with
    the shapes they read and write.

    Parameters
    ----------
    module : torch.nn.Module
        A network built from standard layers and tensor operations. Modules named
        ``Zero`` or ``Identity`` (any vocabulary word) are kept as single nodes.
    input_shape : tuple of int
        ``(C, H, W)`` of one input (no batch dimension).
    oov_threshold : float, default=0.1
        Warn when more than this fraction of nodes are out of vocabulary.

    Returns
    -------
    graph : torch_geometric.data.Data
        ``x_op`` (op index into :data:`VOCAB`), ``x_res`` (n, 6) resolutions divided
        by 256 (H, W) and 512 (C), ``x_kernel`` (n, 2), ``x_bias`` (n, 2) one-hot,
        ``x_groups`` (n,), ``x_weighted`` (n,) bool with weighted nodes first,
        ``edge_index`` (2, E) of source -> target data flow, and ``features``
        (1, 4): :func:`graph_features` of the graph.

    Raises
    ------
    GraphConversionError
        If the module's forward fails on the input, reads tensor values (control
        flow that depends on the data), or needs too much memory; the message
        names the module class and the reason.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"module must be a torch.nn.Module, got {type(module).__name__}"
        )
    input_shape = tuple(int(s) for s in input_shape)
    name = type(module).__name__
    # eval mode so batchnorm neither needs a batch nor updates its statistics;
    # flipping the flags directly is much cheaper than the recursive .eval()
    training = [m for m in module.modules() if m.training]
    for m in training:
        m.training = False
    try:
        ops = _record(module, input_shape)
    except _DataDependent as exc:
        raise GraphConversionError(
            f"cannot trace {name}: its forward reads tensor values ({exc}), so its "
            "computation graph depends on the data. Data-dependent control flow "
            "(if/for on tensor values) is not traceable."
        ) from None
    except Exception as exc:
        raise GraphConversionError(
            f"cannot propagate an input of shape {input_shape} through {name}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        for m in training:
            m.training = True
    _check_activation_memory(ops, input_shape, name)
    return _build_data(ops, name, oov_threshold)


def _build_data(ops, name, oov_threshold):
    from torch_geometric.data import Data

    labels, kept_parents = {}, {}
    for op in ops:
        label = op.label
        # parents = nearest kept ancestors, looking through pruned ops
        parents = []
        for parent in op.parents:
            for p in kept_parents[parent] if labels[parent] == PRUNED else [parent]:
                if p not in parents:
                    parents.append(p)
        # add/mul/concat with a single tensor input (x + 1, cat([x])) are no-ops
        if label in ("add", "mul", "concat") and len(parents) < 2:
            label = PRUNED
        labels[op], kept_parents[op] = label, parents
    kept = [op for op in ops if labels[op] != PRUNED]
    weighted = [op for op in kept if labels[op] in WEIGHTED_OPS]
    order = weighted + [op for op in kept if labels[op] not in WEIGHTED_OPS]
    index = {op: i for i, op in enumerate(order)}

    n = len(order)
    x_op = np.array([OP_INDEX[labels[op]] for op in order], dtype=np.int64)
    x_res = np.zeros((n, 6), dtype=np.float32)
    x_kernel = np.zeros((n, 2), dtype=np.int64)
    x_bias = np.zeros((n, 2), dtype=np.float32)
    x_groups = np.ones(n, dtype=np.int64)
    scale = np.array([MAX_HW, MAX_HW, MAX_HW, MAX_HW, MAX_CHANNELS, MAX_CHANNELS])
    edges = []
    for i, op in enumerate(order):
        edges += [(index[p], i) for p in kept_parents[op]]
        hwc_in, hwc_out = _hwc(op.in_shape), _hwc(op.out_shape)
        hwc_in, hwc_out = hwc_in or hwc_out, hwc_out or hwc_in
        if hwc_in is not None:
            # (Hin, Hout, Win, Wout, Cin, Cout)
            x_res[i] = np.ravel(list(zip(hwc_in, hwc_out))) / scale
        if labels[op] in WEIGHTED_OPS:
            k1, k2, has_bias, groups = op.weight
            x_kernel[i] = k1, k2
            x_bias[i, int(has_bias)] = 1.0
            x_groups[i] = groups
    big = int(x_kernel.max()) if n else 0
    if big > MAX_KERNEL:
        warnings.warn(
            f"{name} has a {big}-wide kernel; kernels above {MAX_KERNEL} share the "
            f"embedding row of size {MAX_KERNEL}",
            stacklevel=3,
        )
    oov = float(np.mean(x_op == 0)) if n else 0.0
    if oov > oov_threshold:
        unknown = sorted(
            {
                getattr(op.source, "__name__", str(op.source))
                for op in order
                if labels[op] == "<OOV>"
            }
        )
        warnings.warn(
            f"{oov:.0%} of the {n} nodes of {name} are out of vocabulary "
            f"(threshold {oov_threshold:.0%}): {', '.join(unknown[:5])}",
            stacklevel=3,
        )
    edge_index = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).t().contiguous()
    graph = Data(
        x_op=torch.from_numpy(x_op), x_res=torch.from_numpy(x_res),
        x_kernel=torch.from_numpy(x_kernel), x_bias=torch.from_numpy(x_bias),
        x_groups=torch.from_numpy(x_groups),
        x_weighted=torch.from_numpy(np.isin(x_op, [OP_INDEX[w] for w in WEIGHTED_OPS])),
        edge_index=edge_index, num_nodes=n, oov_rate=torch.tensor([oov]),
    )  # fmt: skip
    # computed once here, so predicting on prebuilt graphs does not redo it
    graph.features = torch.from_numpy(graph_features(graph))[None]
    return graph


def to_graphs(modules, input_shape, n_jobs=None):
    """:func:`to_graph` over a list of modules, in parallel with joblib.

    Parameters
    ----------
    modules : list of torch.nn.Module
    input_shape : tuple of int
        ``(C, H, W)`` of one input.
    n_jobs : int, default=None
        Worker processes (joblib's convention: None is 1, -1 all cores); runs on
        any joblib backend, e.g. a Dask cluster via ``joblib.parallel_config``.

    Returns
    -------
    graphs : list of torch_geometric.data.Data
    """
    from joblib import Parallel, delayed, effective_n_jobs

    modules = list(modules)
    n = effective_n_jobs(n_jobs)
    if n == 1 or len(modules) < 2 * n:
        return [to_graph(m, input_shape) for m in modules]
    chunks = [modules[i::n] for i in range(n)]
    parts = Parallel(n_jobs=n)(
        delayed(_convert_chunk)(chunk, input_shape) for chunk in chunks
    )
    graphs = [None] * len(modules)
    for i, part in enumerate(parts):
        graphs[i::n] = part
    return graphs


def _convert_chunk(modules, input_shape):
    torch.set_num_threads(1)
    return [to_graph(m, input_shape) for m in modules]


def graph_flops(graph):
    """Multiply-accumulates of the weighted nodes of a computation graph.

    Convolutions count ``Hout * Wout * Cout * Cin / groups * k1 * k2``, linear layers
    ``Cin * Cout``; elementwise and pooling ops are not counted (as GENNAPE's CG
    FLOPs counter). Returns a float.
    """
    weights, res = _layer_weights(graph)
    macs = weights * (res[:, 1] * MAX_HW) * (res[:, 3] * MAX_HW)  # x Hout x Wout
    return float(torch.round(macs).sum())


def _layer_weights(graph):
    """Weights of every weighted node (``Cout * Cin / groups * k1 * k2``, kernel 1x1
    for linear layers) and those nodes' resolution rows, in float64 (exact)."""
    w = graph.x_weighted
    res = graph.x_res[w].double()
    kernel = graph.x_kernel[w].double().clamp(min=1)
    channels = res[:, 5] * MAX_CHANNELS * res[:, 4] * MAX_CHANNELS
    return channels / graph.x_groups[w].double() * kernel.prod(1), res


def graph_params(graph):
    """Parameters of a computation graph's layers.

    Convolutions hold ``Cout * Cin / groups * k1 * k2`` weights, linear layers
    ``Cin * Cout``, each plus ``Cout`` with a bias; batchnorm holds ``2 * C``
    (affine). Equals ``sum(p.numel() for p in net.parameters())`` for networks made
    of these layers. Returns a float.
    """
    weights, res = _layer_weights(graph)
    bias = res[:, 5] * MAX_CHANNELS * graph.x_bias[graph.x_weighted, 1].double()
    norm = graph.x_res[graph.x_op == OP_INDEX["batchnorm"], 5].double() * MAX_CHANNELS
    return float(torch.round(weights.sum() + bias.sum() + 2 * norm.sum()))


def graph_depth(graph):
    """Weighted layers (conv, depthwise, linear) on the longest input-to-output
    path of a computation graph. Returns an int."""
    n = graph.num_nodes
    src, dst = graph.edge_index.tolist()
    children = [[] for _ in range(n)]
    indegree = [0] * n
    for s, d in zip(src, dst):
        children[s].append(d)
        indegree[d] += 1
    weighted = graph.x_weighted.tolist()
    depth = [int(w) for w in weighted]  # longest weighted path ending at a node
    ready = [i for i in range(n) if indegree[i] == 0]
    while ready:  # Kahn's topological order
        node = ready.pop()
        for child in children[node]:
            depth[child] = max(depth[child], depth[node] + weighted[child])
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return max(depth, default=0)


# what graph_features returns, in order
GRAPH_FEATURES = ("log_flops", "log_params", "depth", "log_width")


def graph_features(graph):
    """Graph-level inputs of the predictors' heads: what the free signals know.

    Returns
    -------
    features : ndarray of shape (4,)
        ``log(1 + FLOPs)`` (:func:`graph_flops`), ``log(1 + parameters)``
        (:func:`graph_params`), the weighted depth (:func:`graph_depth`) and
        ``log`` of the widest node's channel count, in the order of
        :data:`GRAPH_FEATURES`.
    """
    width = float(graph.x_res[:, 4:].max()) * MAX_CHANNELS
    return np.array(
        [
            np.log1p(graph_flops(graph)),
            np.log1p(graph_params(graph)),
            graph_depth(graph),
            np.log(max(width, 1.0)),
        ]
    )


def graph_summary(graph):
    """The list of ``(op label, [child labels])`` of a graph, for reading and tests."""
    ops = [VOCAB[i] for i in graph.x_op.tolist()]
    children = [[] for _ in ops]
    for src, dst in graph.edge_index.t().tolist():
        children[src].append(ops[dst])
    return list(zip(ops, children))


def to_networkx(graph):
    """A ``networkx.DiGraph`` with the op label and features on every node."""
    import networkx as nx

    g = nx.DiGraph()
    for i in range(graph.num_nodes):
        g.add_node(
            i,
            op=VOCAB[int(graph.x_op[i])],
            res=tuple(np.round(graph.x_res[i].numpy(), 6)),
            kernel=tuple(graph.x_kernel[i].tolist()),
            bias=int(graph.x_bias[i, 1]),
        )
    g.add_edges_from(graph.edge_index.t().tolist())
    return g
