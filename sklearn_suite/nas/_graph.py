"""Computation graphs (CGs) of any ``nn.Module``, by torch.fx tracing.

A CG has one node per primitive operation (conv, batchnorm, relu, add, concat, ...),
directed data-flow edges, and per-node features: the op label, the
``(Hin, Hout, Win, Wout, Cin, Cout)`` resolution divided by fixed global constants,
and for weighted nodes (conv, depthwise, linear) the kernel size and a bias flag.
Reshape-like nodes (flatten, view, getitem, dropout, ...) are pruned and their
parents wired to their children, as in GENNAPE's TensorFlow pipeline.
"""

import math
import operator
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

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
# shape queries (x.size(), x.shape, x.dim()) carry no data: pruned, and no edges
SHAPE_QUERY = "<shape>"

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
    operator.add: "add", operator.iadd: "add", torch.add: "add",
    operator.sub: "add", torch.sub: "add",
    operator.mul: "mul", operator.imul: "mul", torch.mul: "mul",
    torch.cat: "concat", torch.concat: "concat",
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu6",
    F.silu: "swish", F.hardswish: "swish",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", F.hardsigmoid: "sigmoid",
    torch.tanh: "tanh", F.tanh: "tanh", F.gelu: "gelu",
    F.max_pool2d: "maxpool", F.adaptive_max_pool2d: "maxpool",
    F.avg_pool2d: "avgpool", torch.mean: "mean", F.pad: "paddings",
    F.conv2d: "conv", F.linear: "matmul", F.batch_norm: "batchnorm",
    torch.flatten: PRUNED, torch.reshape: PRUNED, operator.getitem: PRUNED,
    getattr: "<shape>", F.dropout: PRUNED, torch.squeeze: PRUNED,
    torch.unsqueeze: PRUNED,
}  # fmt: skip
_METHOD_LABELS = {  # "<shape>" is SHAPE_QUERY
    "add": "add", "add_": "add", "sub": "add", "mul": "mul", "mul_": "mul",
    "mean": "mean", "relu": "relu", "relu_": "relu", "sigmoid": "sigmoid",
    "tanh": "tanh", "view": PRUNED, "reshape": PRUNED, "flatten": PRUNED,
    "size": "<shape>", "contiguous": PRUNED, "squeeze": PRUNED, "unsqueeze": PRUNED,
    "dim": "<shape>",
}  # fmt: skip


class GraphConversionError(ValueError):
    """A module could not be turned into a computation graph."""


class _ShapeRecorder(fx.Interpreter):
    """Runs the traced graph once and stores every tensor result's shape in
    ``node.meta["shape"]`` (lighter than ``ShapeProp``, which also records strides
    and quantisation metadata, and needs no ``GraphModule`` code generation)."""

    def run_node(self, node):
        result = super().run_node(node)
        if isinstance(result, torch.Tensor):
            node.meta["shape"] = tuple(result.shape)
        return result


# tracing refuses networks whose activations for one input exceed this
MAX_TRACE_BYTES = 2 * 1024**3


# inputs above this many values are shape-propagated with fake tensors first
REAL_TRACE_VALUES = 2**20


def _propagate_shapes(module, graph, input_shape):
    """Every node's output shape for one input. Small inputs run for real (no
    grad; fast). Large ones run first with fake tensors, which compute shapes
    without computing or allocating anything, so that a network too large to
    trace is refused before it runs (:func:`_check_activation_memory`)."""
    if math.prod(input_shape) > REAL_TRACE_VALUES:
        from torch._subclasses.fake_tensor import FakeTensorMode

        try:
            with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True):
                _ShapeRecorder(module, graph=graph).run(torch.zeros((1, *input_shape)))
            return
        except Exception as exc:  # an op without a fake implementation
            raise GraphConversionError(
                f"input_shape={input_shape} is too large to trace without first "
                f"measuring it, and measuring failed: {type(exc).__name__}: {exc}"
            ) from exc
    with torch.no_grad():
        _ShapeRecorder(module, graph=graph).run(torch.zeros((1, *input_shape)))


def _check_activation_memory(graph, input_shape, name):
    """Refuse a network whose activations for one input would not fit in memory
    (the graph's shapes are known without running it)."""
    total = 4 * sum(
        math.prod(node.meta["shape"]) for node in graph.nodes if "shape" in node.meta
    )
    if total > MAX_TRACE_BYTES:
        raise GraphConversionError(
            f"{name} at input_shape={input_shape} holds {total / 1024**3:.1f} GiB of "
            f"activations for one input, over the {MAX_TRACE_BYTES / 1024**3:.0f} "
            "GiB limit of tracing; pass a smaller input_shape."
        )


class _LeafTracer(fx.Tracer):
    """torch.nn layers are leaves, and so is any module named after a vocabulary
    word (``Zero``, ``Identity``), so NAS ``none`` ops become ``zero`` nodes."""

    def is_leaf_module(self, module, qualname):
        return type(module).__name__.lower() in OP_INDEX or super().is_leaf_module(
            module, qualname
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


def _label(node, modules):
    if node.op == "placeholder":
        return "input"
    if node.op == "output":
        return "output"
    if node.op == "get_attr":
        return PRUNED
    if node.op == "call_module":
        return _module_label(modules[node.target])
    if node.op == "call_function":
        if node.target is F.adaptive_avg_pool2d:
            size = node.args[1] if len(node.args) > 1 else node.kwargs["output_size"]
            return "mean" if size in (1, (1, 1)) else "avgpool"
        if node.target is F.conv2d:
            groups = node.kwargs.get(
                "groups", node.args[6] if len(node.args) > 6 else 1
            )
            return "depthwise" if groups > 1 else "conv"
        return _FUNCTION_LABELS.get(node.target, "<OOV>")
    return _METHOD_LABELS.get(node.target, "<OOV>")


def _shape_of(node):
    return node.meta.get("shape") if isinstance(node, fx.Node) else None


def _hwc(shape):
    """(H, W, C) of an NCHW, NCL or NC tensor shape."""
    if shape is None or len(shape) < 2:
        return None
    if len(shape) == 2:
        return 1, 1, shape[1]
    if len(shape) == 3:
        return shape[2], 1, shape[1]
    return shape[2], shape[3], shape[1]


def _weight_info(node, modules):
    """(k1, k2, has_bias, groups) of a weighted node."""
    if node.op == "call_module":
        module = modules[node.target]
        if isinstance(module, nn.Linear):
            return 0, 0, module.bias is not None, 1
        k1, k2 = module.kernel_size
        return k1, k2, module.bias is not None, module.groups
    weight_shape = _shape_of(node.args[1])
    bias = node.args[2] if len(node.args) > 2 else node.kwargs.get("bias")
    if node.target is F.linear:
        return 0, 0, bias is not None, 1
    groups = node.kwargs.get("groups", node.args[6] if len(node.args) > 6 else 1)
    return weight_shape[2], weight_shape[3], bias is not None, groups


def _tensor_parents(node):
    parents = []
    for arg in node.all_input_nodes:
        if arg.op != "get_attr" and arg not in parents:
            parents.append(arg)
    return parents


def to_graph(module, input_shape, oov_threshold=0.1):
    """Trace ``module`` into a computation graph.

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
        ``x_groups`` (n,), ``x_weighted`` (n,) bool with weighted nodes first, and
        ``edge_index`` (2, E) of source -> target data flow.

    Raises
    ------
    GraphConversionError
        If the module cannot be traced or shape-propagated; the message names the
        module class and the reason.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"module must be a torch.nn.Module, got {type(module).__name__}"
        )
    input_shape = tuple(int(s) for s in input_shape)
    name = type(module).__name__
    try:
        graph = _LeafTracer().trace(module)
    except Exception as exc:  # fx raises many types; report them uniformly
        raise GraphConversionError(
            f"cannot trace {name} with torch.fx: {type(exc).__name__}: {exc}. "
            "Data-dependent control flow (if/for on tensor values) is not traceable."
        ) from exc
    # eval mode so batchnorm neither needs a batch nor updates its statistics;
    # flipping the flags directly is much cheaper than the recursive .eval()
    training = [m for m in module.modules() if m.training]
    for m in training:
        m.training = False
    try:
        _propagate_shapes(module, graph, input_shape)
    except GraphConversionError:
        raise
    except Exception as exc:
        raise GraphConversionError(
            f"cannot propagate an input of shape {input_shape} through {name}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        for m in training:
            m.training = True
    _check_activation_memory(graph, input_shape, name)
    modules = dict(module.named_modules())
    return _build_data(graph, modules, input_shape, name, oov_threshold)


def _build_data(graph, modules, input_shape, name, oov_threshold):
    from torch_geometric.data import Data

    labels, kept_parents = {}, {}
    for node in graph.nodes:
        label = _label(node, modules)
        if label == SHAPE_QUERY:
            labels[node], kept_parents[node] = PRUNED, []
            continue
        # parents = nearest kept ancestors, looking through pruned nodes
        parents = []
        for parent in _tensor_parents(node):
            for p in kept_parents[parent] if labels[parent] == PRUNED else [parent]:
                if p not in parents:
                    parents.append(p)
        # add/mul/concat with a single tensor input (x + 1, cat([x])) are no-ops
        if label in ("add", "mul", "concat") and len(parents) < 2:
            label = PRUNED
        labels[node], kept_parents[node] = label, parents
    kept = [n for n in graph.nodes if labels[n] != PRUNED]
    weighted = [n for n in kept if labels[n] in WEIGHTED_OPS]
    order = weighted + [n for n in kept if labels[n] not in WEIGHTED_OPS]
    index = {node: i for i, node in enumerate(order)}

    n = len(order)
    x_op = np.array([OP_INDEX[labels[node]] for node in order], dtype=np.int64)
    x_res = np.zeros((n, 6), dtype=np.float32)
    x_kernel = np.zeros((n, 2), dtype=np.int64)
    x_bias = np.zeros((n, 2), dtype=np.float32)
    x_groups = np.ones(n, dtype=np.int64)
    scale = np.array([MAX_HW, MAX_HW, MAX_HW, MAX_HW, MAX_CHANNELS, MAX_CHANNELS])
    edges = []
    for i, node in enumerate(order):
        parents = kept_parents[node]
        edges += [(index[p], i) for p in parents]
        if node.op == "placeholder":
            in_shape = out_shape = (1, *input_shape)
        else:
            first_input = next((a for a in node.all_input_nodes if _shape_of(a)), None)
            in_shape = _shape_of(first_input)
            out_shape = _shape_of(node.args[0] if node.op == "output" else node)
        hwc_in, hwc_out = _hwc(in_shape), _hwc(out_shape)
        hwc_in, hwc_out = hwc_in or hwc_out, hwc_out or hwc_in
        if hwc_in is not None:
            # (Hin, Hout, Win, Wout, Cin, Cout)
            x_res[i] = np.ravel(list(zip(hwc_in, hwc_out))) / scale
        if labels[node] in WEIGHTED_OPS:
            k1, k2, has_bias, groups = _weight_info(node, modules)
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
            {str(node.target) for node in order if labels[node] == "<OOV>"}
        )
        warnings.warn(
            f"{oov:.0%} of the {n} nodes of {name} are out of vocabulary "
            f"(threshold {oov_threshold:.0%}): {', '.join(unknown[:5])}",
            stacklevel=3,
        )
    edge_index = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).t().contiguous()
    return Data(
        x_op=torch.from_numpy(x_op), x_res=torch.from_numpy(x_res),
        x_kernel=torch.from_numpy(x_kernel), x_bias=torch.from_numpy(x_bias),
        x_groups=torch.from_numpy(x_groups),
        x_weighted=torch.from_numpy(np.isin(x_op, [OP_INDEX[w] for w in WEIGHTED_OPS])),
        edge_index=edge_index, num_nodes=n, oov_rate=torch.tensor([oov]),
    )  # fmt: skip


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
    res = graph.x_res[graph.x_weighted].double()
    kernel = graph.x_kernel[graph.x_weighted].double().clamp(min=1)
    groups = graph.x_groups[graph.x_weighted].double()
    h_out, w_out = res[:, 1] * MAX_HW, res[:, 3] * MAX_HW
    c_in, c_out = res[:, 4] * MAX_CHANNELS, res[:, 5] * MAX_CHANNELS
    macs = h_out * w_out * c_out * c_in / groups * kernel[:, 0] * kernel[:, 1]
    return float(torch.round(macs).sum())


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
