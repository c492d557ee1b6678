"""The library stands alone; the wheel installs only the minrnn namespace and its harness runs from it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import tiny

ROOT = Path(__file__).resolve().parent.parent


def test_import_minrnn_pulls_in_no_harness_dependency():
    code = (
        "import sys, minrnn, minrnn.scan, minrnn.ops.native; "
        "print([m for m in ('hydra', 'omegaconf', 'wandb', 'pandas', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_non_editable_install_trains_from_anywhere(tmp_path):
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(ROOT)]
    subprocess.run(pip, check=True, capture_output=True)
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info")) == ["bin", "minrnn"]
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "import minrnn.harness.train as t, sys; sys.argv[1:] = sys.argv[2:]; print(t.__file__, file=sys.stderr)"
    code += "; t.main()"
    out = subprocess.run(
        [sys.executable, "-c", code, "--", *tiny(work)], cwd=work, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert str(site) in out.stderr.splitlines()[0]  # the installed copy ran, configs and all
    (result,) = (work / "results/selective_copy/cpu").glob("mingru-L2-s0-*.json")
    assert json.loads(result.read_text())["metrics"]["steps"] == 6


def test_import_turns_on_torchs_huge_page_allocation_unless_the_user_chose():
    code = "import os, minrnn; print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    env["THP_MEM_ALLOC_ENABLE"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


# The Triton each torch release pins (its CUDA wheels' requirement), for the releases at our bounds.
TRITON_PINNED_BY_TORCH = {"2.4": "3.0", "2.5": "3.1", "2.6": "3.2"}


def _lower_bound(requirements: list[str], name: str) -> tuple[int, ...]:
    (req,) = [r for r in requirements if r.split(">")[0].split("=")[0].strip() == name]
    return tuple(int(x) for x in req.split(">=")[1].split(",")[0].split("."))


def test_the_torch_and_triton_bounds_resolve_together():
    """The oldest torch we allow pins a Triton that our [triton] extra accepts (torch 2.4/2.5 did not)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_min = _lower_bound(project["dependencies"], "torch")
    triton_min = _lower_bound(project["optional-dependencies"]["triton"], "triton")
    pinned = tuple(int(x) for x in TRITON_PINNED_BY_TORCH[".".join(map(str, torch_min[:2]))].split("."))
    assert pinned >= triton_min, f"torch {torch_min} pins triton {pinned}, below the extra's {triton_min}"
    doc = (ROOT / "docs/gpus.md").read_text()
    assert f"torch >= {torch_min[0]}.{torch_min[1]}" in doc and f"triton >= {triton_min[0]}.{triton_min[1]}" in doc
