import json

from cli import call

from minrnn.bench import efficiency


def write(folder, kind, rows, settings):
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    (folder / f"{kind}_cpu.csv").write_text("\n".join(lines) + "\n")
    session = {"device": "cpu", "device_name": "Test CPU", "torch": "2.x"}
    (folder / f"{kind}_cpu.json").write_text(json.dumps({"settings": settings, "sessions": [session]}))


def test_figures_and_report_from_the_csvs_alone(tmp_path):
    times = {
        "minGRU": 10.0,
        "minLSTM": 20.0,
        "GRU (plain loop)": 100.0,
        "LSTM (plain loop)": 300.0,
        "GRU (torch.nn)": 50.0,
        "LSTM (torch.nn)": 40.0,
        "Mamba": 12.0,
        "minGRU (log-space scan)": 5.0,
    }
    rows = [
        {
            "model": m,
            "T": T,
            "status": "ok",
            "ms_median": t * T / 512,
            "peak_mib": 100 + (m == "minGRU") * 88,
            "implementation": "x",
        }
        for T in (512, 4096)
        for m, t in times.items()
    ]
    rows.append({"model": "Transformer", "T": 4096, "status": "oom"})
    write(tmp_path, "training", rows, {"scale": "cpu", "batch": 64, "repeats": 3, "memory": "peak RSS", "threads": 2})
    inf = [
        {
            "model": m,
            "batch": b,
            "context": c,
            "status": "ok",
            "total_ms": c / 10,
            "ms_per_token": 1.0,
            "state_kib_end": 36.0 if m == "minGRU" else c / 8,
        }
        for m in ("minGRU", "Transformer")
        for b in (8, 64)
        for c in (64, 1024)
    ]
    write(tmp_path, "inference", inf, {"scale": "cpu", "new_tokens": 64, "repeats": 3, "threads": 2})
    assert call(efficiency, ["--results", str(tmp_path)]) == 0
    for name in ("training_cpu", "inference_cpu", "inference_memory_cpu"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / f"{name}.pdf").exists()
    report = (tmp_path / "efficiency_cpu.md").read_text()
    assert (
        "| 512 | minGRU vs GRU (plain loop) speedup, default backend | 175x | 10.00x (vs torch.nn: 5.00x) |" in report
    )
    # the paper's speedups time its parallel scan: that row stands beside them too
    line = "| 512 | minGRU vs GRU (plain loop) speedup, parallel log-space scan | 175x | 20.00x (vs torch.nn: 10.00x) |"
    assert line in report
    assert (
        "| 4096 | minLSTM vs LSTM (plain loop) speedup, default backend | 1361x | 15.00x (vs torch.nn: 2.00x) |"
        in report
    )
    assert "| 4096 | minGRU memory vs GRU | ~+88% | +88% (vs the plain loop) |" in report
    assert "Not measured: Transformer at T=4096 (oom)" in report
    assert "minGRU: the state is the same size at every context length (36.0 KiB)" in report


def test_no_csvs_is_one_clear_error(tmp_path, capsys):
    assert call(efficiency, ["--results", str(tmp_path)]) == 2
    assert "no training_cpu.csv" in capsys.readouterr().err
