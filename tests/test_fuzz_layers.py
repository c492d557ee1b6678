"""Fuzzing the layers (issue 34, part 6): random module changes (hooks, parametrizations, replaced or frozen
projections, dtypes, options changed after construction, bias=False) and argument combinations (shapes,
h0, resets, cu_seqlens, return_state, step vs parallel, non-contiguous and expanded views) for every
MinGRU/MinLSTM variant on every CPU backend, checked against scan="sequential". The property: the right
result, or one ArgumentError (a ValueError) where the case is invalid; never another exception.
HYPOTHESIS_PROFILE=fuzz (make fuzz) runs many more examples (tests/conftest.py)."""

import warnings

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import parametrize

from minrnn import MinGRU, MinLSTM, checks
from minrnn.resets import resets_from_cu_seqlens
from minrnn.scan import scan

TOL = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 3e-2, torch.bfloat16: 6e-2}
CHANGES = [
    "none",
    "pre_hook",
    "hook",
    "global_hook",
    "parametrize",
    "weight_norm",
    "replaced",
    "frozen",
    "one_bias_removed",
    "flip_log_space",
    "flip_normalize",
]
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]


class Twice(nn.Module):
    def forward(self, w):
        return 2 * w


class Adapter(nn.Module):
    """A projection replaced after construction (as LoRA does): a Linear plus a low-rank term."""

    def __init__(self, lin: nn.Linear):
        super().__init__()
        self.lin, self.down = lin, nn.Linear(lin.in_features, 1, bias=False).to(lin.weight.dtype)

    def forward(self, x):
        return self.lin(x) + self.down(x)


def _change(layer, change: str, name: str, undo: list) -> None:
    """Apply one module change to projection ``name`` (undo: callables that remove global state)."""
    proj = getattr(layer, name)
    if change == "pre_hook":
        proj.register_forward_pre_hook(lambda m, args: (args[0] * 0.5,))
    elif change == "hook":
        proj.register_forward_hook(lambda m, args, out: out + 0.25)
    elif change == "global_hook":
        handle = nn.modules.module.register_module_forward_hook(
            lambda m, args, out: out - 0.125 if isinstance(m, nn.Linear) else out
        )
        undo.append(handle.remove)
    elif change == "parametrize":
        parametrize.register_parametrization(proj, "weight", Twice())
    elif change == "weight_norm":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.nn.utils.weight_norm(proj)  # the old API: a forward pre-hook recomputes .weight
        with torch.no_grad():
            proj.weight_g.mul_(1.5)  # .weight is stale until the hook runs
    elif change == "replaced":
        setattr(layer, name, Adapter(proj))
    elif change == "frozen":
        proj.requires_grad_(False)
    elif change == "one_bias_removed":
        proj.bias = None
    elif change == "flip_log_space":
        layer.log_space = not layer.log_space
    elif change == "flip_normalize" and isinstance(layer, MinLSTM):
        layer.normalize_gates = not layer.normalize_gates


@st.composite
def cases(draw, backends=("cpu", "log", "sequential"), max_t=7, modes=("parallel", "step")):
    c = {"cls": draw(st.sampled_from([MinGRU, MinLSTM])), "log_space": draw(st.booleans())}
    c["normalize_gates"] = draw(st.booleans()) if c["cls"] is MinLSTM else None
    c["bias"], c["init_hidden_state"] = draw(st.booleans()), draw(st.booleans())
    c["dim_in"], c["dim_hidden"] = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    c["B"], c["T"] = draw(st.integers(1, 3)), draw(st.integers(1, max_t))
    c["backend"] = draw(st.sampled_from(backends))
    c["change"] = draw(st.sampled_from(CHANGES))
    c["dtype"] = draw(st.sampled_from([torch.float64, torch.float64, torch.float32, torch.bfloat16, torch.float16]))
    c["h0"] = draw(st.sampled_from([None, "positive", "any", "expanded"]))
    c["resets"] = draw(st.sampled_from([None, "random", "cu_seqlens"]))
    c["layout"] = draw(st.sampled_from(["contiguous", "transposed", "strided", "expanded"]))
    c["mode"], c["return_state"] = draw(st.sampled_from(modes)), draw(st.booleans())
    c["grad"] = c["dtype"] == torch.float64 and draw(st.booleans())
    c["seed"] = draw(st.integers(0, 2**16))
    return c


def _x(c, gen):
    B, T, D = c["B"], c["T"], c["dim_in"]
    if c["layout"] == "transposed":
        x = torch.randn(B, D, T, generator=gen, dtype=torch.float64).transpose(1, 2)
    elif c["layout"] == "strided":
        x = torch.randn(B, 2 * T, D, generator=gen, dtype=torch.float64)[:, ::2]
    elif c["layout"] == "expanded":
        x = torch.randn(1, T, D, generator=gen, dtype=torch.float64).expand(B, T, D)
    else:
        x = torch.randn(B, T, D, generator=gen, dtype=torch.float64)
    return x.to(c["dtype"])


def _build(c):
    torch.manual_seed(c["seed"])
    kw = {"log_space": c["log_space"], "bias": c["bias"], "init_hidden_state": c["init_hidden_state"]}
    if c["cls"] is MinLSTM:
        kw |= {"normalize_gates": c["normalize_gates"], "forget_bias": 1.0 if c["bias"] else 0.0}
    scan_name = c["backend"] if c["backend"] != "log" or c["log_space"] else "sequential"
    return c["cls"](c["dim_in"], c["dim_hidden"], scan=scan_name, **kw)


def _run(layer, c, x, h0, resets, backend):
    """(outputs, final state or None) in parallel mode on ``backend`` or, for c['mode'] == 'step', step by step."""
    layer.scan = backend
    if c["mode"] == "step":
        h, outs = h0, []
        for t in range(x.shape[1]):
            h = layer.step(x[:, t], h, None if resets is None else resets[:, t])
            outs.append(h)
        return torch.stack(outs, 1), None
    if c["return_state"]:
        return layer(x, h0, return_state=True, resets=resets)
    return layer(x, h0, resets=resets), None


def check_case(c):
    gen = torch.Generator().manual_seed(c["seed"])
    layer = _build(c).to(c["dtype"])
    undo = []
    try:
        names = layer._projection_names
        _change(layer, c["change"], names[c["seed"] % len(names)], undo)
        x = _x(c, gen)
        B, T, H = c["B"], c["T"], c["dim_hidden"]
        h0 = {
            None: None,
            "positive": torch.rand(B, H, generator=gen, dtype=torch.float64) + 0.1,
            "any": torch.randn(B, H, generator=gen, dtype=torch.float64),
            "expanded": (torch.rand(1, H, generator=gen, dtype=torch.float64) + 0.1).expand(B, H),
        }[c["h0"]]
        h0 = h0.to(c["dtype"]) if h0 is not None else None
        resets = None
        if c["resets"] == "random":
            resets = torch.rand(B, T, generator=gen) < 0.3
        elif c["resets"] == "cu_seqlens":
            cuts = sorted({int(v) for v in torch.randint(1, T + 1, (2,), generator=gen)} | {T})
            resets = resets_from_cu_seqlens([0] + cuts).expand(B, T)
        backend = c["backend"]
        if backend == "log" and not c["log_space"] and c["change"] != "flip_log_space":
            backend = "sequential"  # the constructor refuses it (test_layers); the fuzz looks at later changes
        if c["grad"]:
            x.requires_grad_(True)
        # the invalid cases: a log-space backend on a layer made vanilla, or (parallel mode) a non-positive h0
        nonpositive = c["mode"] == "parallel" and h0 is not None and bool((h0 <= 0).any())
        expect_error = backend == "log" and (not layer.log_space or nonpositive)
        try:
            out, state = _run(layer, c, x, h0, resets, backend)
        except ValueError as e:
            assert expect_error, f"unexpected refusal for {c}: {e}"
            assert isinstance(e, checks.ArgumentError), f"a ValueError outside minrnn.checks: {e}"
            return
        assert not expect_error, f"accepted an invalid case {c}"
        params = [p for p in layer.parameters() if p.requires_grad]
        grads = torch.autograd.grad(out.sum(), [x, *params], allow_unused=True) if c["grad"] else None
        c_ref = {**c, "mode": "parallel" if c["mode"] == "step" else c["mode"]}
        ref, ref_state = _run(layer, c_ref, x, h0, resets, "sequential")
        tol = TOL[c["dtype"]]
        assert out.dtype == x.dtype and out.shape == (B, T, H)
        torch.testing.assert_close(out, ref, rtol=tol, atol=tol, msg=lambda m: f"{c}: {m}")
        if state is not None:
            torch.testing.assert_close(state, out[:, -1], rtol=0, atol=0)
        if grads is not None:
            ref_grads = torch.autograd.grad(ref.sum(), [x, *params], allow_unused=True)
            for p, got, want in zip([x, *params], grads, ref_grads, strict=True):
                # unused (None) = zero: a first step from no state never reads the forget gate
                got, want = (torch.zeros_like(p) if g is None else g for g in (got, want))
                torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9, msg=lambda m: f"{c}: {m}")
    finally:
        for fn in undo:
            fn()


@settings(deadline=None, suppress_health_check=_SLOW)
@given(cases())
def test_layers_equal_the_sequential_scan_under_random_changes(c):
    check_case(c)


@settings(deadline=None, suppress_health_check=_SLOW, max_examples=8)
@given(cases(backends=("triton",), max_t=3, modes=("parallel",)))
def test_triton_under_the_interpreter_equals_the_sequential_scan(c):
    pytest.importorskip("triton")  # an optional extra: its absence is not a failure of the library
    check_case(c)


BAD = ["x_int", "x_list", "x_dims", "x_dim_in", "x_empty", "x_dtype", "x_meta", "h0_shape", "h0_int", "h0_meta"]
BAD += ["resets_float", "resets_int", "resets_shape", "resets_meta", "scan_unknown", "cu_float", "cu_order"]


@settings(deadline=None, suppress_health_check=_SLOW)
@given(st.sampled_from(BAD), st.sampled_from([MinGRU, MinLSTM]), st.sampled_from(["parallel", "step", "scan"]))
def test_bad_arguments_are_one_argument_error_naming_them(bad, cls, mode):
    layer = cls(3, 4)
    x, h0, resets = torch.randn(2, 5, 3), torch.rand(2, 4) + 0.1, torch.zeros(2, 5, dtype=torch.bool)
    named = bad.split("_")[0].replace("cu", "cu_seqlens").replace("resets", "reset")
    if bad == "x_int":
        x = x.long()
    elif bad == "x_list":
        x = x.tolist()
    elif bad == "x_dims":
        x = x[0]
    elif bad == "x_dim_in":
        x = torch.randn(2, 5, 2)
    elif bad == "x_empty":
        x = x[:, :0]
    elif bad == "x_dtype":
        x = x.double()
    elif bad == "x_meta":
        x = x.to("meta")
    elif bad.startswith("h0_"):
        h0 = {"h0_shape": h0[:, :3], "h0_int": h0.long(), "h0_meta": h0.to("meta")}[bad]
    elif bad.startswith("resets_"):
        resets = {
            "resets_float": resets.float(),
            "resets_int": resets.long(),
            "resets_shape": resets[:, 1:],
            "resets_meta": resets.to("meta"),
        }[bad]
    if mode == "scan":  # the bad x cases that a scan's a can have
        assume(bad in ("x_int", "x_list", "x_dims", "x_empty") or not bad.startswith("x_"))
    with pytest.raises(checks.ArgumentError) as e:
        if bad == "scan_unknown":
            layer.scan = "fast"
            layer(x) if mode != "step" else layer.step(x[:, 0])
        elif bad.startswith("cu_"):
            resets_from_cu_seqlens([0.0, 2.0] if bad == "cu_float" else [0, 3, 2])
        elif mode == "scan":
            a = x if bad.startswith("x") else torch.rand(2, 5, 4)
            b = torch.rand(a.shape) if isinstance(a, torch.Tensor) else torch.rand(2, 5, 4)
            scan(a, b, h0 if bad.startswith("h0") else None, resets=resets)
        elif mode == "step":
            x_t = {"x_list": x, "x_dims": torch.randn(3), "x_empty": torch.randn(2, 0)}.get(bad)
            x_t = x[:, 0] if x_t is None else x_t
            reset = resets[:1, 0] if bad == "resets_shape" else resets[:, 0]
            layer.step(x_t, h0, reset)
        else:
            layer(x, h0, resets=resets)
    message = str(e.value).replace("the state", "h0")
    assert (named if mode != "scan" or named != "x" else "a") in message, message


def test_the_entry_points_leave_their_argument_checks_to_minrnn_checks():
    """One argument check (issue 34.5): the library's entry points raise nothing themselves."""
    import ast
    from pathlib import Path

    entry = {"forward", "_forward", "step", "generate", "_embed", "_scan_log", "_gate_scan", "scan"}
    entry |= {"resets_from_cu_seqlens", "step_state", "reset_coefficients", "reset_log_coefficients"}
    root = Path(checks.__file__).parent
    found = []
    for name in ("layers.py", "scan.py", "resets.py", "blocks.py", "model.py"):
        for node in ast.walk(ast.parse((root / name).read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in entry:
                found += [f"{name}:{r.lineno}" for r in ast.walk(node) if isinstance(r, ast.Raise)]
    assert not found, f"argument checks outside minrnn/checks.py: {found}"
