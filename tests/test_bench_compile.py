from minrnn.bench import compiled as bench_compile


def test_the_report_puts_eager_and_compiled_side_by_side_with_the_speed_up():
    rows = [
        {
            "experiment": "table2/mingru",
            "compile": "False",
            "status": "ok",
            "ms_per_step": "30.0",
            "batch_shape": "64x72",
        },
        {"experiment": "table2/mingru", "compile": "True", "status": "ok", "ms_per_step": "20.0", "first_step_s": "14"},
        {"experiment": "figure2/mingru", "compile": "False", "status": "error", "error": "no data"},
    ]
    table = bench_compile.report(rows)
    assert "| table2/mingru | 64x72 | 30.0 | 20.0 | 1.50x | 14 s |" in table
    assert "| figure2/mingru | | | | not measured: no data | |" in table


def test_a_measured_step_is_the_trainers_step_on_the_presets_batch():
    row = bench_compile.measure(
        {"experiment": "table2/mingru", "compile": False, "threads": 1, "steps": 1, "budget": 1.0}
    )
    assert row["status"] == "ok" and row["runs"] == 1 and row["batch_shape"] == "64x72"
    assert row["ms_per_step"] > 0
