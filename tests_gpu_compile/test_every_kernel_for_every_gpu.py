"""Every Triton kernel variant minrnn launches, compiled for sm_60, sm_70, sm_75, sm_80 and sm_90 with
the installed Triton (its own ptxas), no GPU needed: no register spills, 64-bit row offsets.
``make test-gpu-compile`` (CI) runs it; a kernel that stops compiling for a real GPU fails here."""

import pytest

from minrnn import triton_targets as TT


@pytest.mark.parametrize("capability", TT.CAPABILITIES)
@pytest.mark.parametrize("kernel", sorted({v.kernel for v in TT.variants()}))
def test_every_variant_compiles_without_spills_and_with_64_bit_row_offsets(kernel, capability):
    rows = [TT.check(v, capability) for v in TT.variants() if v.kernel == kernel]
    bad = [r for r in rows if not r["ok"]]
    assert rows and not bad, "\n".join(map(str, bad))
