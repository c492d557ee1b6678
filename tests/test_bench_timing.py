"""minrnn.bench.timing and the layer benchmark on a busy machine: values, never timings (a fake clock)."""

from types import SimpleNamespace

import pytest

from minrnn.bench import layers, timing


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def fake_runs(clock, seconds: dict, calls: list):
    """{name: a run that takes seconds[name] on the fake clock and records its call}."""

    def run(name):
        calls.append(name)
        clock.now += seconds[name]
        return seconds[name]

    return {name: (lambda name=name: run(name)) for name in seconds}


def test_rounds_are_interleaved_round_robin_after_one_warm_up_each():
    clock, calls = FakeClock(), []
    times = timing.interleaved(fake_runs(clock, {"a": 1, "b": 1, "c": 1}, calls), 3, 1e9, clock, log=lambda _: None)
    assert calls == ["a", "b", "c", "a", "b", "c", "b", "c", "a", "c", "a", "b"]  # warm-up, then rotating rounds
    assert times == {"a": [1, 1, 1], "b": [1, 1, 1], "c": [1, 1, 1]}


def test_rounds_stop_when_the_next_would_not_fit_the_share_but_never_below_the_minimum():
    clock, calls, lines = FakeClock(), [], []
    runs = fake_runs(clock, {"a": 2.0, "b": 3.0}, calls)  # 5 s a round
    times = timing.interleaved(runs, 10, 21.0, clock, log=lines.append)
    # warm-up 5 s, rounds end at 10, 15, 20 s; a 4th would end at 25 > 21
    assert len(times["a"]) == 3 and clock.now == 20.0 and len(lines) == 3 and lines[0].startswith("  round 1/10")
    clock2 = FakeClock()
    short = timing.interleaved(fake_runs(clock2, {"a": 2.0, "b": 3.0}, []), 10, 1.0, clock2, log=lambda _: None)
    assert len(short["a"]) == timing.MIN_ROUNDS  # over budget from the start: the minimum still runs


def test_a_budget_counts_down_on_its_clock_and_none_is_unlimited():
    clock = FakeClock()
    clock.now = 100.0
    budget = timing.Budget(30.0, clock)
    clock.now = 112.0
    assert budget.left() == 18.0 and timing.Budget(None, clock).left() == float("inf")


def test_the_layer_benchmark_skips_a_length_whose_first_rounds_cannot_fit_its_budget(monkeypatch):
    """T=64 takes 1 s a run on the fake clock; T=512 would take 8 s a run, 3 x 16 s for 2 layers: skipped."""
    clock = FakeClock()
    monkeypatch.setattr(layers.time, "perf_counter", clock)

    def fake_fwd_bwd_runs(fns, x):
        return fake_runs(clock, {name: x.shape[1] / 64 for name in fns}, [])

    monkeypatch.setattr(layers, "fwd_bwd_runs", fake_fwd_bwd_runs)
    mods = {"MinGRU": layers.MinGRU(2, 2), "MinLSTM": layers.MinLSTM(2, 2)}
    args = SimpleNamespace(lengths=[512, 64], batch=1, dim=2, repeats=5)
    lines = []
    times, skipped = layers.measure(mods, args, timing.Budget(30.0, clock), log=lines.append)
    # T=64 gets half of the 30 s: a warm-up and 5 rounds (--repeats) of 2 s each, 12 s
    assert list(times) == [64] and len(times[64]["MinGRU"]) == 5 and clock.now == 12.0
    assert list(skipped) == [512] and "needs about 48 s, 18 s of the budget left" in skipped[512]
    assert lines[0].startswith("T=64: warm-up") and lines[-1].startswith("T=512: skipped")


def test_a_ratio_is_the_median_of_per_round_ratios_with_its_interquartile_range():
    s, why = timing.ratio([2.8, 6.0, 3.0, 3.2, 3.1], [1.0, 2.0, 1.0, 1.0, 1.0])  # per round: 2.8, 3, 3, 3.2, 3.1
    assert (s.median, s.q1, s.q3, s.n) == (3.0, 3.0, 3.1, 5) and why is None
    assert timing.ratio_cell(s, why) == "3.00x (3.00-3.10)"


def test_a_layer_faster_than_its_own_projections_is_impossible_however_tight():
    s, why = timing.ratio([0.64, 0.64, 0.64], [1.0, 1.0, 1.0], floor=1.0)
    assert s.median == 0.64 and why.startswith("impossible (0.64x < 1x")
    assert timing.ratio_cell(s, why) == why  # the number is not printed as a result


def test_a_ratio_whose_spread_is_wide_or_that_has_one_round_is_unreliable():
    wide, why = timing.ratio([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0])
    assert wide.relative > timing.MAX_SPREAD and why == "unreliable (1.75-3.25x)"
    _, one = timing.ratio([2.0], [1.0])
    assert one == "unreliable (2.00x, 1 round)"
    _, tight = timing.ratio([2.0, 2.1, 1.95], [1.0, 1.0, 1.0])
    assert tight is None


def test_the_report_marks_unreliable_and_impossible_ratios_instead_of_their_numbers():
    rounds = {name: [0.010, 0.011, 0.012] for name in layers.layer_models(2)}
    rounds["MinGRU projections only"] = [0.020, 0.020, 0.020]  # slower than the layer: impossible
    rounds["nn.GRU (fused)"] = [0.010, 0.040, 0.100]  # wide: unreliable
    args = SimpleNamespace(lengths=[512, 4096], batch=1, dim=2, repeats=3, budget=60.0)
    record = layers.summarise({512: rounds}) | {"skipped": {4096: "needs about 90 s"}, "load": "Machine quiet."}
    table = layers.report(record, list(rounds), args)
    assert "| MinGRU / its projections | impossible (0.55x < 1x" in table
    assert "| nn.GRU (fused) / MinGRU | unreliable (" in table
    assert "| LSTM loop / MinLSTM | 1.00x (" in table
    assert "T=4096 not measured: needs about 90 s." in table and "| MinGRU | 11.0 ms (10.5-11.5) | - |" in table
    assert record["ratio_spread"]["MinGRU / its projections"]["512"]["not_a_result"].startswith("impossible")
    assert record["ratios"]["GRU loop / MinGRU"]["512"] == 1.0  # what docs/library.md reads stays a number


@pytest.mark.parametrize(
    "before, after, threads, loaded",
    [(0.1, 2.1, 2, False), (3.0, 2.0, 2, True), (0.2, 5.5, 2, True), (0.9, 2.5, 2, False)],
)
def test_the_machine_is_called_loaded_when_other_work_keeps_half_its_cores_busy(before, after, threads, loaded):
    line = timing.load_line(before, after, 2, threads)
    assert line.startswith("Machine LOADED" if loaded else "Machine quiet") and f"{before:.1f} before" in line


def test_a_loaded_machine_is_timed_with_one_thread():
    assert (
        timing.threads_for(5.0, 2, 2) == 1 and timing.threads_for(0.3, 2, 2) == 2 and timing.threads_for(3, 8, 8) == 8
    )
