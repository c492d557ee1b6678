import pytest
import torch
import torch.nn.functional as F
from torch import nn

from minrnn import MinGRU, MinLSTM, g, log_g
from minrnn.ops.reference import parallel_scan_log

VARIANTS = [
    (MinGRU, {}),
    (MinGRU, {"log_space": False}),
    (MinLSTM, {}),
    (MinLSTM, {"log_space": False}),
    (MinLSTM, {"normalize_gates": True}),
    (MinLSTM, {"normalize_gates": True, "log_space": False}),
]
IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for c, kw in VARIANTS]


def backends(kw):
    return ["sequential", "cpu"] + (["log"] if kw.get("log_space", True) else [])


def make(cls, kw, **extra):
    return cls(5, 7, **kw, **extra).double()


@pytest.mark.parametrize(("cls", "kw"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("with_h0", [False, True])
def test_parallel_mode_equals_step_mode(cls, kw, with_h0):
    layer = make(cls, kw)
    x = torch.randn(3, 40, 5, dtype=torch.float64)
    h0 = torch.rand(3, 7, dtype=torch.float64) + 0.1 if with_h0 else None
    h, steps = h0, []
    for x_t in x.unbind(1):
        h = layer.step(x_t, h)
        steps.append(h)
    steps = torch.stack(steps, 1)
    for backend in backends(kw):
        layer.scan = backend
        torch.testing.assert_close(layer(x, h0), steps, rtol=0, atol=1e-12, msg=f"backend {backend}")


@pytest.mark.parametrize(("cls", "kw"), VARIANTS, ids=IDS)
def test_learned_initial_state(cls, kw):
    layer = make(cls, kw, init_hidden_state=True)
    x = torch.randn(2, 6, 5, dtype=torch.float64)
    state = layer.candidate(layer.init_hidden_state).expand(2, -1)
    for backend in backends(kw):
        layer.scan = backend
        torch.testing.assert_close(layer(x), layer(x, state), rtol=0, atol=1e-12)
    torch.testing.assert_close(layer.step(x[:, 0]), layer.step(x[:, 0], state))
    # without it, an omitted h0 means zeros
    plain = make(cls, kw)
    torch.testing.assert_close(plain(x), plain(x, torch.zeros(2, 7, dtype=torch.float64)), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("cls", "kw"), VARIANTS, ids=IDS)
def test_gradcheck_every_backend(cls, kw):
    layer = make(cls, kw)
    x = torch.randn(2, 6, 5, dtype=torch.float64, requires_grad=True)
    h0 = (torch.rand(2, 7, dtype=torch.float64) + 0.1).requires_grad_()
    for backend in backends(kw):
        layer.scan = backend
        assert torch.autograd.gradcheck(layer, (x, h0)), backend
        assert torch.autograd.gradcheck(layer, (x,)), backend


@pytest.mark.parametrize(("cls", "kw"), VARIANTS, ids=IDS)
def test_parameter_gradients_agree_across_backends(cls, kw):
    layer = make(cls, kw)
    x = torch.randn(2, 50, 5, dtype=torch.float64)
    w = torch.randn(2, 50, 7, dtype=torch.float64)
    grads = {}
    for backend in backends(kw):
        layer.scan = backend
        layer.zero_grad()
        (layer(x) * w).sum().backward()
        grads[backend] = torch.cat([p.grad.flatten() for p in layer.parameters()])
    for backend, gr in grads.items():
        torch.testing.assert_close(gr, grads["sequential"], rtol=0, atol=1e-10, msg=backend)


def test_listing8_literally_with_paper_h0():
    """Listing 8 prepends log_g(h_0): our layer given the state g(h_0) computes exactly that."""
    layer = MinGRU(4, 6).double()
    x = torch.randn(2, 10, 4, dtype=torch.float64)
    h_0 = torch.randn(2, 1, 6, dtype=torch.float64)  # the paper's h_0: a pre-activation
    k = layer.linear_z(x)
    log_z = -F.softplus(-k)
    log_coeffs = -F.softplus(k)
    log_h_0 = log_g(h_0)
    log_tilde_h = log_g(layer.linear_h(x))
    h = parallel_scan_log(log_coeffs, torch.cat([log_h_0, log_z + log_tilde_h], dim=1))
    for backend in ["log", "cpu", "sequential"]:
        layer.scan = backend
        torch.testing.assert_close(layer(x, g(h_0[:, 0])), h, rtol=0, atol=1e-12)


def test_listing10_literally():
    layer = MinLSTM(4, 6, normalize_gates=True).double()
    x = torch.randn(2, 10, 4, dtype=torch.float64)
    h_0 = torch.rand(2, 1, 6, dtype=torch.float64) + 0.1
    diff = F.softplus(-layer.linear_f(x)) - F.softplus(-layer.linear_i(x))
    log_f = -F.softplus(diff)
    log_i = -F.softplus(-diff)
    log_tilde_h = log_g(layer.linear_h(x))
    h = parallel_scan_log(log_f, torch.cat([h_0.log(), log_i + log_tilde_h], dim=1))
    torch.testing.assert_close(layer(x, h_0[:, 0]), h, rtol=0, atol=1e-12)


def test_listing3_vanilla_step():
    layer = MinLSTM(4, 6, normalize_gates=True, log_space=False).double()
    x_t, h_prev = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    f_t = torch.sigmoid(layer.linear_f(x_t))
    i_t = torch.sigmoid(layer.linear_i(x_t))
    tilde_h_t = layer.linear_h(x_t)
    h_t = f_t / (f_t + i_t) * h_prev + i_t / (f_t + i_t) * tilde_h_t
    torch.testing.assert_close(layer.step(x_t, h_prev), h_t)


def test_normalized_gates_sum_to_one():
    layer = MinLSTM(4, 6, normalize_gates=True, log_space=False).double()
    nn.init.zeros_(layer.linear_h.weight)
    nn.init.constant_(layer.linear_h.bias, 2.5)  # h~ = 2.5 everywhere
    x = torch.randn(2, 100, 4, dtype=torch.float64) * 5
    h0 = torch.full((2, 6), 2.5, dtype=torch.float64)
    # f' + i' = 1 keeps a constant state constant: time-independent scale (Section 3.2.3)
    torch.testing.assert_close(layer(x, h0), torch.full((2, 100, 6), 2.5, dtype=torch.float64))


@pytest.mark.parametrize("alpha", [1, 2, 3, 4])
def test_parameter_count_claims_of_section3(alpha):
    """minGRU uses 2/(3(1+a)) and minLSTM 3/(4(1+a)) of GRU's/LSTM's weights at d_h = a d_x."""
    d = 64
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    gru_ratio = count(MinGRU(d, alpha * d, bias=False)) / count(nn.GRU(d, alpha * d, bias=False))
    lstm_ratio = count(MinLSTM(d, alpha * d, bias=False, forget_bias=0)) / count(nn.LSTM(d, alpha * d, bias=False))
    assert gru_ratio == pytest.approx(2 / (3 * (1 + alpha)), abs=1e-12)
    assert lstm_ratio == pytest.approx(3 / (4 * (1 + alpha)), abs=1e-12)
    paper_gru = {1: 33, 2: 22, 3: 17, 4: 13}  # Section 3.1.3, percent
    paper_lstm = {1: 38, 2: 25, 3: 19, 4: 15}  # Section 3.2.4, percent
    assert int(100 * gru_ratio + 0.5) == paper_gru[alpha]  # the paper rounds half up (37.5 -> 38)
    assert int(100 * lstm_ratio + 0.5) == paper_lstm[alpha]


def test_forget_bias_initialisation():
    torch.manual_seed(1)
    plain = MinLSTM(4, 6, forget_bias=0)
    torch.manual_seed(1)
    shifted = MinLSTM(4, 6, forget_bias=3.0)
    torch.testing.assert_close(shifted.linear_f.bias, plain.linear_f.bias + 3.0)
    torch.testing.assert_close(shifted.linear_i.bias, plain.linear_i.bias)
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        MinLSTM(4, 6, bias=False, forget_bias=1.0)


@pytest.mark.parametrize("backend", ["cpu", "log"])
def test_half_precision_scans_in_float32(backend):
    layer = MinGRU(8, 16, scan=backend)
    x = torch.randn(2, 50, 8)
    ref = layer(x)
    out = layer.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)
    # under autocast the activations are bf16 while the weights stay float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = MinGRU(8, 16, scan=backend)
        auto.load_state_dict(layer.float().state_dict())
        torch.testing.assert_close(auto(x).float(), ref, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_half_inputs_keep_a_float32_state_in_every_backend_and_mode(cls, half):
    """The precision policy (docs/library.md): only the projections are half; under autocast every
    backend and step mode return float32 and agree with each other to float32 rounding (the fused cpu
    kernel adds the bias in float32, so it is held to the half tolerance)."""
    torch.manual_seed(0)
    layer = cls(8, 16, init_hidden_state=True)
    x = torch.randn(2, 300, 8)
    outs = {}
    with torch.autocast("cpu", dtype=half):
        for backend in ["sequential", "log", "triton", "cpu"]:
            layer.scan = backend
            outs[backend] = layer(x)
        h, steps = None, []
        for t in range(300):
            h = layer.step(x[:, t], h)
            steps.append(h)
    outs["step"] = torch.stack(steps, 1)
    assert all(o.dtype == torch.float32 for o in outs.values())
    for name in ["log", "triton", "step"]:
        torch.testing.assert_close(outs[name], outs["sequential"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(outs["cpu"], outs["sequential"], rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_bad_shapes_and_dtypes_raise_value_error(cls):
    layer = cls(5, 7)
    with pytest.raises(ValueError, match=r"shape \(B, T, dim_in\) with dim_in = 5"):
        layer(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"shape \(B, T, dim_in\)"):
        layer(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"shape \(B, T, dim_in\)"):
        layer(torch.randn(2, 0, 5))
    with pytest.raises(ValueError, match="floating-point"):
        layer(torch.ones(2, 3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="dtype torch.float64 but the layer's weights are torch.float32"):
        layer(torch.randn(2, 3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"state must have shape \(B, dim_hidden\) = \(2, 7\)"):
        layer(torch.randn(2, 3, 5), torch.randn(2, 6))
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, dim_in\)"):
        layer.step(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="unknown scan backend"):
        cls(5, 7, scan="parallel")
    with pytest.raises(ValueError, match="needs log_space=True"):
        cls(5, 7, scan="log", log_space=False)
    with pytest.raises(ValueError, match="must be positive"):
        cls(0, 7)
    with pytest.raises(ValueError, match="positive h0"):
        cls(5, 7, scan="log")(torch.randn(2, 3, 5), -torch.rand(2, 7))


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
@pytest.mark.parametrize("scale", [80.0, 1e4])
@pytest.mark.parametrize("backend", ["cpu", "log", "sequential"])
def test_extreme_gate_logits_stay_finite_and_accurate_in_float32(cls, scale, backend):
    """Gate pre-activations of order +-scale (saturated gates, a = 0 in float32) over T = 3000."""
    torch.manual_seed(0)
    ref = cls(4, 8, scan="sequential").double()
    with torch.no_grad():
        for lin in ref._projections[:-1]:  # the gates, not the candidate
            lin.weight.mul_(scale)
            lin.bias.mul_(scale)
    x = torch.randn(2, 3000, 4, dtype=torch.float64)
    layer = cls(4, 8, scan=backend)
    layer.load_state_dict(ref.state_dict())
    h = layer(x.float()).double()
    assert torch.isfinite(h).all()
    # relative 1e-3; states that underflow (a closed gate from h0 = 0) are compared absolutely
    torch.testing.assert_close(h, ref(x), rtol=1e-3, atol=1e-6)


class _LoRA(torch.nn.Module):
    """What PEFT does: the Linear wrapped, with a low-rank update beside it."""

    def __init__(self, base: torch.nn.Linear, rank: int = 2):
        super().__init__()
        self.base = base
        self.a = torch.nn.Parameter(torch.randn(rank, base.in_features, dtype=base.weight.dtype))
        self.b = torch.nn.Parameter(torch.randn(base.out_features, rank, dtype=base.weight.dtype))

    def forward(self, x):
        return self.base(x) + x @ self.a.T @ self.b.T


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_a_linear_replaced_after_construction_is_used_by_every_backend(cls):
    torch.manual_seed(0)
    layer = cls(5, 7, scan="sequential").double()
    layer.linear_h = _LoRA(layer.linear_h)  # what LoRA/PEFT tools do
    x = torch.randn(2, 9, 5, dtype=torch.float64)
    ref = layer(x)
    for backend in ("log", "cpu", "triton"):
        layer.scan = backend
        torch.testing.assert_close(layer(x), ref, rtol=0, atol=1e-10, msg=backend)


@pytest.mark.parametrize("backend", ["sequential", "log", "cpu", "triton"])
def test_every_backend_takes_h0_alike_and_refuses_one_on_another_device(backend):
    torch.manual_seed(0)
    layer = MinGRU(4, 6, scan=backend)
    x, h0 = torch.randn(2, 5, 4), torch.rand(2, 6, dtype=torch.float64) + 0.1
    out = layer(x, h0)  # a float64 state with float32 inputs: taken in the inputs' dtype
    layer.scan = "sequential"
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, layer(x, h0.float()), rtol=0, atol=1e-5)
    layer.scan = backend
    with pytest.raises(ValueError, match="the state is on meta but x is on cpu"):
        layer(x, torch.empty(2, 6, device="meta"))
    with pytest.raises(ValueError, match="the state must be a floating-point tensor"):
        layer(x, torch.ones(2, 6, dtype=torch.long))
