"""Every Triton kernel of minrnn.ops.triton_scan, triton_chunked and triton_step compiled for real GPUs, no GPU.

``triton.compile(ASTSource(kernel, signature, constexprs), target=GPUTarget("cuda", cc, 32))`` runs
Triton's whole pipeline (TTIR, TTGIR, LLVM IR, PTX, then a cubin through the ``ptxas`` its wheel
ships) with no driver. ``variants()`` lists the launch configurations that minrnn.ops.triton_scan uses
(every dtype mix that autocast produces, gate mode, g or identity candidate, with and without h0,
each channel block), ``compile_variant`` compiles one for a compute capability and reads
``ptxas -v``'s registers and spills, and ``scalar_offsets`` checks that every pointer offset that is
not a per-lane channel index is 64-bit (an int32 offset overflows at B x T x C >= 2^31 elements).
CI runs the full matrix (``make test-gpu-compile``); the default suite one variant per kernel.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import triton
import triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from minrnn.ops import triton_scan

CAPABILITIES = (60, 70, 75, 80, 90)  # P100, V100, T4, A100, H100
BLOCKS = (16, 32, 64, 128)  # triton_scan._block's range
PTR = {"float32": "*fp32", "float64": "*fp64", "bfloat16": "*bf16", "float16": "*fp16"}
# (input dtype, h0 dtype or None): the state is float32 (float64 for float64 inputs); a learned or
# given h0 stays float32 when autocast makes the inputs half precision
DTYPE_MIXES = [*[(d, None) for d in PTR], *[(d, d) for d in PTR], ("bfloat16", "float32"), ("float16", "float32")]


@dataclass(frozen=True)
class Variant:
    kernel: str  # a @triton.jit function of minrnn.ops.triton_scan
    dtype: str
    h0_dtype: str | None
    block: int
    mode: str | None = None  # gate kernels: gru | lstm | lstm_norm
    use_g: bool = True
    reverse: bool | None = None  # the chunked scan's _chunk_local and _chunk_states: forward or backward
    resets: bool = False  # gate kernels: with a (B, T) uint8 resets mask (HAS_RESETS)

    @property
    def name(self) -> str:
        mode = f" {self.mode} {'g' if self.use_g else 'identity'}" if self.mode else ""
        mode += {None: "", False: " forward", True: " reverse"}[self.reverse] + (" resets" if self.resets else "")
        return f"{self.kernel}{mode} {self.dtype} h0={self.h0_dtype} BLOCK={self.block}"

    def source(self) -> ASTSource:
        state = "float64" if self.dtype == "float64" else "float32"
        inp, st = PTR[self.dtype], PTR[state]
        h0 = PTR[self.h0_dtype] if self.h0_dtype else inp  # without h0 the kernel gets a dummy pointer
        if self.kernel.startswith("_gate_chunk"):
            return self._gate_chunked_source(inp, st, state)
        if self.kernel == "_gate_step":
            return self._step_source(inp, st, state)
        if self.kernel.startswith("_chunk"):
            return self._chunked_source(inp, st, state)
        r = "*u8" if self.resets else inp  # without resets the kernel gets a dummy pointer
        ptrs = {
            "_scan_fwd": [("a_ptr", inp), ("b_ptr", inp), ("h0_ptr", h0), ("h_ptr", st)],
            "_scan_bwd": [("a_ptr", inp), ("h0_ptr", h0), ("h_ptr", st), ("gh_ptr", st), ("ga_ptr", inp)]
            + [("gb_ptr", inp), ("gh0_ptr", h0)],
            "_gate_fwd": [("p_ptr", inp), ("q_ptr", st), ("h0_ptr", h0), ("r_ptr", r), ("h_ptr", st)],
            "_gate_bwd": [("p_ptr", inp), ("q_ptr", st), ("h0_ptr", h0), ("r_ptr", r), ("h_ptr", st), ("gh_ptr", st)]
            + [("gp_ptr", inp), ("gh0_ptr", h0)],
        }[self.kernel]
        sizes = ("T", "C") if self.kernel.startswith("_scan") else ("T", "H")
        constexprs = {"HAS_H0": self.h0_dtype is not None, "ACC": tl.float64 if state == "float64" else tl.float32}
        if self.mode:
            constexprs |= {"HAS_RESETS": self.resets, "MODE": triton_scan.MODES[self.mode], "USE_G": self.use_g}
        constexprs["BLOCK"] = self.block
        signature = dict(ptrs) | dict.fromkeys(sizes, "i32") | dict.fromkeys(constexprs, "constexpr")
        return ASTSource(fn=getattr(triton_scan, self.kernel), signature=signature, constexprs=constexprs)

    def _chunked_source(self, inp: str, st: str, state: str) -> ASTSource:
        """minrnn.triton_chunked's kernels, as chunked_scan and chunked_scan_backward launch them."""
        from minrnn.ops import triton_chunked

        h0 = PTR[self.h0_dtype] if self.h0_dtype else st  # _chunk_states gets a state buffer as dummy
        grad_h0 = PTR[self.h0_dtype] if self.h0_dtype else st
        ptrs, sizes, constexprs = {
            "_chunk_local": ([("a_ptr", inp), ("b_ptr", st if self.reverse else inp)], ("T", "C", "L"), {}),
            "_chunk_states": (
                [
                    ("h0_ptr", st if self.reverse else h0),
                    ("start_ptr", st),
                    ("last_ptr", grad_h0 if self.reverse else st),
                ],
                ("n_chunks", "C"),
                {"HAS_H0": self.h0_dtype is not None and not self.reverse},
            ),
            "_chunk_fwd": ([("a_ptr", inp), ("b_ptr", inp), ("start_ptr", st), ("h_ptr", st)], ("T", "C", "L"), {}),
            "_chunk_bwd": (
                [("a_ptr", inp), ("h0_ptr", PTR[self.h0_dtype] if self.h0_dtype else inp), ("h_ptr", st)]
                + [("gh_ptr", st), ("start_ptr", st), ("ga_ptr", inp), ("gb_ptr", inp)],
                ("T", "C", "L"),
                {"HAS_H0": self.h0_dtype is not None},
            ),
        }[self.kernel]
        if self.kernel == "_chunk_local":
            ptrs += [("A_ptr", st), ("S_ptr", st)]
        if self.kernel == "_chunk_states":
            ptrs = [("A_ptr", st), ("S_ptr", st), *ptrs]
        if self.reverse is not None:
            constexprs["REVERSE"] = self.reverse
        constexprs |= {"ACC": tl.float64 if state == "float64" else tl.float32, "BLOCK": self.block}
        signature = dict(ptrs) | dict.fromkeys(sizes, "i32") | dict.fromkeys(constexprs, "constexpr")
        return ASTSource(fn=getattr(triton_chunked, self.kernel), signature=signature, constexprs=constexprs)

    def _gate_chunked_source(self, inp: str, st: str, state: str) -> ASTSource:
        """minrnn.triton_chunked's gate kernels, as chunked_gate_scan and its backward launch them."""
        from minrnn.ops import triton_chunked

        r = "*u8" if self.resets else inp  # without resets the kernel gets p as a dummy pointer
        ptrs, constexprs = {
            "_gate_chunk_local": (
                [("p_ptr", inp), ("q_ptr", st), ("r_ptr", r), ("gh_ptr", st), ("A_ptr", st), ("S_ptr", st)],
                {"REVERSE": bool(self.reverse)},
            ),
            "_gate_chunk_fwd": ([("p_ptr", inp), ("q_ptr", st), ("r_ptr", r), ("start_ptr", st), ("h_ptr", st)], {}),
            "_gate_chunk_bwd": (
                [("p_ptr", inp), ("q_ptr", st), ("h0_ptr", PTR[self.h0_dtype] if self.h0_dtype else inp)]
                + [("r_ptr", r), ("h_ptr", st), ("gh_ptr", st), ("start_ptr", st), ("gp_ptr", inp)],
                {"HAS_H0": self.h0_dtype is not None},
            ),
        }[self.kernel]
        constexprs |= {"HAS_RESETS": self.resets, "MODE": triton_scan.MODES[self.mode], "USE_G": self.use_g}
        constexprs |= {"ACC": tl.float64 if state == "float64" else tl.float32, "BLOCK": self.block}
        signature = dict(ptrs) | dict.fromkeys(("T", "H", "L"), "i32") | dict.fromkeys(constexprs, "constexpr")
        return ASTSource(fn=getattr(triton_chunked, self.kernel), signature=signature, constexprs=constexprs)

    def _step_source(self, inp: str, st: str, state: str) -> ASTSource:
        """minrnn.ops.triton_step's decoding step: p (B, P), h_prev in its own dtype (h0_dtype, else p's)."""
        from minrnn.ops import triton_step

        h = PTR[self.h0_dtype] if self.h0_dtype else inp
        constexprs = {"MODE": triton_scan.MODES[self.mode], "USE_G": self.use_g}
        constexprs |= {"ACC": tl.float64 if state == "float64" else tl.float32, "BLOCK": self.block}
        signature = {"p_ptr": inp, "h_ptr": h, "out_ptr": st, "H": "i32"} | dict.fromkeys(constexprs, "constexpr")
        return ASTSource(fn=triton_step._gate_step, signature=signature, constexprs=constexprs)


CHUNKED_KERNELS = ("_chunk_local", "_chunk_states", "_chunk_fwd", "_chunk_bwd")
GATE_CHUNKED_KERNELS = ("_gate_chunk_local", "_gate_chunk_fwd", "_gate_chunk_bwd")


def chunked_variants(blocks=BLOCKS) -> list[Variant]:
    """Every launch configuration of minrnn.triton_chunked's four kernels (forward and reverse)."""
    out = []
    for (dtype, h0), block in itertools.product(DTYPE_MIXES, blocks):
        for reverse in (False, True):
            out += [Variant("_chunk_local", dtype, h0, block, reverse=reverse)]
            out += [Variant("_chunk_states", dtype, h0, block, reverse=reverse)]
        out += [Variant("_chunk_fwd", dtype, h0, block), Variant("_chunk_bwd", dtype, h0, block)]
    return out + gate_chunked_variants(blocks) + step_variants(blocks)


def step_variants(blocks=BLOCKS) -> list[Variant]:
    """minrnn.ops.triton_step's kernel (fast decoding on a GPU): each mode and candidate, h_prev in the
    input's dtype or float32 beside half inputs."""
    modes = list(itertools.product(triton_scan.MODES, (True, False)))
    return [
        Variant("_gate_step", dtype, h, block, mode, use_g)
        for (dtype, h), block, (mode, use_g) in itertools.product(DTYPE_MIXES, blocks, modes)
    ]


def gate_chunked_variants(blocks=BLOCKS) -> list[Variant]:
    """Every launch configuration of the chunked gate kernels: each mode, candidate and resets; h0's dtype
    only where the kernel reads h0 (``_gate_chunk_bwd``; the others take the input dtype alone)."""
    out = []
    gate = list(itertools.product(triton_scan.MODES, (True, False), (False, True)))
    for (dtype, h0), block in itertools.product(DTYPE_MIXES, blocks):
        for mode, use_g, resets in gate:
            out.append(Variant("_gate_chunk_bwd", dtype, h0, block, mode, use_g, resets=resets))
            if h0 is None:
                out += [
                    Variant("_gate_chunk_local", dtype, None, block, mode, use_g, reverse=rev, resets=resets)
                    for rev in (False, True)
                ]
                out.append(Variant("_gate_chunk_fwd", dtype, None, block, mode, use_g, resets=resets))
    return out


def variants(blocks=BLOCKS) -> list[Variant]:
    """Every launch configuration of the four kernels (the gate kernels in each mode and candidate, with and
    without resets)."""
    out = []
    gate = list(itertools.product(("_gate_fwd", "_gate_bwd"), triton_scan.MODES, (True, False), (False, True)))
    for (dtype, h0), block in itertools.product(DTYPE_MIXES, blocks):
        out += [Variant(k, dtype, h0, block) for k in ("_scan_fwd", "_scan_bwd")]
        for kernel, mode, use_g, resets in gate:
            out.append(Variant(kernel, dtype, h0, block, mode, use_g, resets=resets))
    return out + chunked_variants(blocks)


@dataclass
class Compiled:
    variant: Variant
    capability: int
    registers: int
    spill_stores: int
    spill_loads: int
    ttir: str


def ptxas_usage(ptx: str, capability: int) -> tuple[int, int, int]:
    """(registers, spill-store bytes, spill-load bytes) from ``ptxas -v`` on the PTX, for sm_<capability>."""
    from triton.backends.nvidia.compiler import get_ptxas

    arch = f"sm_{capability}a" if capability >= 90 else f"sm_{capability}"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "kernel.ptx"
        src.write_text(ptx)
        cmd = [get_ptxas(capability).path, "-v", f"--gpu-name={arch}", str(src), "-o", str(Path(tmp) / "k.cubin")]
        out = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if out.returncode != 0:
        raise RuntimeError(f"ptxas failed for {arch}: {out.stderr.strip()[-500:]}")
    regs = [int(n) for n in re.findall(r"Used (\d+) registers", out.stderr)]
    stores = [int(n) for n in re.findall(r"(\d+) bytes spill stores", out.stderr)]
    loads = [int(n) for n in re.findall(r"(\d+) bytes spill loads", out.stderr)]
    if not regs:
        raise RuntimeError(f"ptxas -v printed no register count for {arch}: {out.stderr.strip()[-500:]}")
    return max(regs), max(stores, default=0), max(loads, default=0)


def compile_variant(variant: Variant, capability: int) -> Compiled:
    """Compile ``variant`` for sm_<capability> (no GPU needed); registers and spills from ptxas -v."""
    kernel = triton.compile(variant.source(), target=GPUTarget("cuda", capability, 32))
    regs, stores, loads = ptxas_usage(kernel.asm["ptx"], capability)
    return Compiled(variant, capability, regs, stores, loads, kernel.asm["ttir"])


def row_arithmetic_in_int32(ttir: str) -> list[str]:
    """TTIR lines doing 32-bit integer arithmetic on a value derived from the batch row (program_id x).

    The row's offset is (row * T + t) * C: in int32 it wraps once B x T x C reaches 2^31 elements, and
    the kernel reads and writes out of bounds. Channel offsets (program_id y, arange) stay below C and
    may be 32-bit. Empty when every row offset is computed in 64 bits.
    """
    tainted, found = set(), []
    for line in ttir.splitlines():
        m = re.match(r"\s*(%[\w.]+)(?::\d+)? = (\S+)(.*)", line)
        if not m:
            continue
        name, op, rest = m.groups()
        if op == "tt.get_program_id" and rest.lstrip().startswith("x"):
            tainted.add(name)
            continue
        operands = set(re.findall(r"%[\w.]+", rest.split(" loc(")[0]))
        if operands & tainted:
            tainted.add(name)
            if op.startswith("arith.") and re.search(r":\s*(tensor<[\dx]*)?i32>?\s*(loc|$)", rest):
                found.append(line.strip())
    return found


ONE_PER_KERNEL = [  # the mix autocast produces (bf16 Linear outputs, a float32 h0), the widest block
    Variant("_scan_fwd", "bfloat16", "float32", 128),
    Variant("_scan_bwd", "bfloat16", "float32", 128),
    Variant("_gate_fwd", "bfloat16", "float32", 128, "lstm_norm", True, resets=True),
    Variant("_gate_bwd", "float64", "float64", 128, "lstm_norm", True, resets=True),
    Variant("_chunk_local", "bfloat16", "float32", 128, reverse=True),
    Variant("_chunk_states", "bfloat16", "float32", 128, reverse=False),
    Variant("_chunk_fwd", "bfloat16", "float32", 128),
    Variant("_chunk_bwd", "bfloat16", "float32", 128),
    Variant("_gate_chunk_local", "bfloat16", None, 128, "lstm_norm", True, reverse=True, resets=True),
    Variant("_gate_chunk_fwd", "bfloat16", None, 128, "lstm_norm", True, resets=True),
    Variant("_gate_chunk_bwd", "float64", "float64", 128, "lstm_norm", True, resets=True),
    Variant("_gate_step", "bfloat16", "float32", 128, "lstm_norm", True),
]


def check(variant: Variant, capability: int) -> dict:
    """One row: compiled or not, registers, spills, 32-bit row arithmetic; ``ok`` when all is well."""
    row = {"kernel": variant.name, "capability": capability}
    try:
        c = compile_variant(variant, capability)
    except Exception as e:  # a variant that does not compile is a row, not the end of the run
        return row | {"ok": False, "error": f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:300]}"}
    int32 = row_arithmetic_in_int32(c.ttir)
    row |= {"registers": c.registers, "spill_stores": c.spill_stores, "spill_loads": c.spill_loads}
    return row | {"int32_row_offsets": len(int32), "ok": not (c.spill_stores or c.spill_loads or int32)}
