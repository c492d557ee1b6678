import pytest
import torch
from checks import assert_causal

from minrnn.baselines.mamba import Mamba, MambaMixer, selective_scan


def test_selective_scan_hand_computed_case():
    """L=2, one channel, one state: h1 = 0.5, y1 = 2*0.5 + 0.1*1; h2 = e^-1*0.5 + 1*0.5*2, y2 = 3*h2 + 0.1*2."""
    u, delta = torch.tensor([[[1.0, 2.0]]]), torch.tensor([[[0.5, 1.0]]])
    A, B, C, D = torch.tensor([[-1.0]]), torch.tensor([[[1.0, 0.5]]]), torch.tensor([[[2.0, 3.0]]]), torch.tensor([0.1])
    h2 = torch.exp(torch.tensor(-1.0)) * 0.5 + 1.0
    expect = torch.tensor([[[1.1, 3 * h2 + 0.2]]])
    for backend in ["cpu", "sequential"]:
        torch.testing.assert_close(selective_scan(u, delta, A, B, C, D, backend=backend), expect)
    z = torch.tensor([[[0.3, -1.2]]])
    silu = z * torch.sigmoid(z)
    torch.testing.assert_close(selective_scan(u, delta, A, B, C, D, z=z, backend="cpu"), expect * silu)


def test_selective_scan_on_the_triton_scan_equals_the_reference():
    """What the Mamba baseline runs on CUDA, here in Triton's interpreter (tests/conftest.py)."""
    torch.manual_seed(0)
    u, delta = torch.randn(2, 3, 9, dtype=torch.float64), torch.rand(2, 3, 9, dtype=torch.float64)
    A, B, C = (
        -torch.rand(3, 4, dtype=torch.float64),
        torch.randn(2, 4, 9, dtype=torch.float64),
        torch.randn(2, 4, 9, dtype=torch.float64),
    )
    ref = selective_scan(u, delta, A, B, C, backend="sequential")
    torch.testing.assert_close(selective_scan(u, delta, A, B, C, backend="triton"), ref, rtol=0, atol=1e-12)


def test_fused_selective_scan_matches_reference_and_gradcheck():
    b, d, l, n = 2, 4, 9, 3  # noqa: E741
    g = lambda *s: torch.randn(*s, dtype=torch.float64, requires_grad=True)  # noqa: E731
    u, B, C = g(b, d, l), g(b, n, l), g(b, n, l)
    delta = torch.rand(b, d, l, dtype=torch.float64, requires_grad=True)
    A = (-torch.rand(d, n, dtype=torch.float64) - 0.1).requires_grad_()
    ref = selective_scan(u, delta, A, B, C, backend="sequential")
    torch.testing.assert_close(selective_scan(u, delta, A, B, C, backend="cpu"), ref, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *a: selective_scan(*a, backend="cpu"), (u, delta, A, B, C))


@pytest.mark.parametrize("l", [64, 150])  # one whole chunk of kept states; three, the last one short
def test_fused_selective_scan_over_several_chunks_equals_the_reference(l):  # noqa: E741
    """The backward recomputes each chunk's states from the one kept before it (native.S6_CHUNK)."""
    torch.manual_seed(0)
    b, d, n = 2, 4, 3
    g = lambda *s: torch.randn(*s, dtype=torch.float64, requires_grad=True)  # noqa: E731
    u, B, C, w = g(b, d, l), g(b, n, l), g(b, n, l), torch.randn(b, d, l, dtype=torch.float64)
    delta = torch.rand(b, d, l, dtype=torch.float64, requires_grad=True)
    A = (-torch.rand(d, n, dtype=torch.float64) - 0.1).requires_grad_()
    grads = {}
    for backend in ("sequential", "cpu"):
        y = selective_scan(u, delta, A, B, C, backend=backend)
        grads[backend] = (y, *torch.autograd.grad((y * w).sum(), (u, delta, A, B, C)))
    for fused, ref in zip(grads["cpu"], grads["sequential"], strict=True):
        torch.testing.assert_close(fused, ref, rtol=0, atol=1e-10)
    short = [t.detach()[:1, :2, :70].requires_grad_() for t in (u, delta)]  # two chunks, gradcheck-sized
    args = (*short, A[:2, :2].detach().requires_grad_(), *(t.detach()[:1, :2, :70].requires_grad_() for t in (B, C)))
    assert torch.autograd.gradcheck(lambda *a: selective_scan(*a, backend="cpu"), args)


def test_mamba_step_equals_parallel_and_is_causal():
    model = Mamba(dim=16, depth=2, dim_out=7, vocab_size=7).double().eval()
    assert model.implementation == "minrnn scan (pure PyTorch)"
    x = torch.randint(0, 7, (2, 12))
    state, outs = None, []
    for x_t in x.unbind(1):
        o, state = model.step(x_t, state)
        outs.append(o)
    torch.testing.assert_close(torch.stack(outs, 1), model(x), rtol=0, atol=1e-12)
    assert_causal(model, x, 5)


def test_mixer_uses_mambas_initialisation():
    m = MambaMixer(32, d_state=16)
    torch.testing.assert_close(-torch.exp(m.A_log[0]), -torch.arange(1.0, 17.0))
    dt = torch.nn.functional.softplus(m.dt_proj.bias)
    assert dt.min() >= 1e-3 - 1e-6 and dt.max() <= 0.1 + 1e-6


def test_asking_for_mamba_ssm_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="needs a CUDA device and `pip install mamba-ssm`"):
        Mamba(dim=8, depth=1, dim_out=2, vocab_size=2, implementation="mamba_ssm")


@pytest.mark.parametrize("prefix", [1, 2, 300])  # shorter than the conv window, and over one chunk of _last_state
def test_parallel_prefill_state_continues_in_step_mode(prefix):
    """forward(return_state=True) over a prefix, then step, equals the parallel pass over the whole input."""
    model = Mamba(dim=16, depth=2, dim_out=7, vocab_size=7).double().eval()
    x = torch.randint(0, 7, (2, prefix + 4))
    full = model(x)
    logits, state = model(x[:, :prefix], return_state=True)
    torch.testing.assert_close(logits, full[:, :prefix], rtol=0, atol=1e-12)
    for t in range(prefix, x.shape[1]):
        o, state = model.step(x[:, t], state)
        torch.testing.assert_close(o, full[:, t], rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="empty state"):
        model(x, state=state)


class _StandInMambaSSM(torch.nn.Module):
    """A stand-in for mamba_ssm.Mamba: records that it was built."""

    built = 0

    def __init__(self, d_model, d_state, d_conv, expand, layer_idx=None):
        super().__init__()
        type(self).built += 1
        self.layer_idx, self.lin = layer_idx, torch.nn.Linear(d_model, d_model)

    def forward(self, x, inference_params=None):
        return self.lin(x)


@pytest.fixture
def mamba_ssm_installed_on_a_gpu_machine(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("mamba_ssm")
    fake.Mamba = _StandInMambaSSM
    monkeypatch.setitem(sys.modules, "mamba_ssm", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


def test_mamba_ssm_is_chosen_by_the_runs_device_not_by_cuda_being_there(mamba_ssm_installed_on_a_gpu_machine):
    assert Mamba(dim=8, depth=2, dim_out=2, vocab_size=2, device="cpu").implementation == "minrnn scan (pure PyTorch)"
    assert Mamba(dim=8, depth=2, dim_out=2, vocab_size=2).implementation == "minrnn scan (pure PyTorch)"
    model = Mamba(dim=8, depth=2, dim_out=2, vocab_size=2, device="cuda:1")
    assert model.implementation == "mamba_ssm" and [m.block.layer_idx for m in model.mixers] == [0, 1]


def test_a_training_run_passes_its_device_to_the_mamba_baseline(tmp_path, mamba_ssm_installed_on_a_gpu_machine):
    from harness import compose_cfg, tiny

    from minrnn.harness.train import build

    _, on_cpu = build(compose_cfg(tiny(tmp_path, "model=mamba", "trainer.device=cpu")))
    _, on_gpu = build(compose_cfg(tiny(tmp_path, "model=mamba", "trainer.device=auto")))
    assert (on_cpu.implementation, on_gpu.implementation) == ("minrnn scan (pure PyTorch)", "mamba_ssm")


def test_a_log_and_d_get_no_weight_decay_as_in_mamba_ssm():
    from types import SimpleNamespace

    from minrnn.harness.trainer import build_optimizer

    model = Mamba(dim=8, depth=1, dim_out=2, vocab_size=2)
    cfg = SimpleNamespace(weight_decay=0.1, optimizer="adamw", lr=1e-3, betas=(0.9, 0.999))
    decay, no_decay = build_optimizer(model, cfg).param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert not any(p is model.mixers[0].A_log for p in decay["params"])
    assert any(p is model.mixers[0].A_log for p in no_decay["params"])
    assert any(p is model.mixers[0].in_proj.weight for p in decay["params"])
