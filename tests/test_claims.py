"""Claims as data (minrnn.reports.claims): verdicts computed from results files alone."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from harness import write_summary

from minrnn.reports.claims import BUDGET, CLAIMS, FAILS, HOLDS, INCONCLUSIVE, NOT_RUN, PARTLY, evaluate
from minrnn.reports.runs import paper_reference

ROOT = Path(__file__).resolve().parent.parent


def results_folder(tmp: Path) -> Path:
    out = tmp / "results"
    out.mkdir()
    return out


def curve(acc: float, steps: int, best_step: int) -> list[dict]:
    """Three last evaluations: rising by 0.1 each into the last when the best is there (still improving by
    more than the seeds' spread over the last two), else flat after the best."""
    if best_step == steps:
        return [{"step": steps - 250 * k, "val_acc": acc - 0.1 * k} for k in (2, 1, 0)]
    return [
        {"step": best_step, "val_acc": acc},
        {"step": steps - 1, "val_acc": acc},
        {"step": steps, "val_acc": acc - 0.001},
    ]


def copy_runs(results: Path, model: str, depth: int, accs: list[float], steps=2500, best_step=2000) -> None:
    for seed, acc in enumerate(accs):
        metrics = {"test_acc": acc, "steps": steps, "best_step": best_step, "stop_reason": "max_steps"}
        metrics["val_history"] = curve(acc, steps, best_step)
        write_summary(results, [f"experiment=table1/{model}", f"task.arch.depth={depth}"], metrics, seed)


def verdicts(results: Path) -> dict:
    return {r["id"]: r["verdict"] for r in evaluate(results, "cpu")}


def test_with_no_results_every_claim_is_not_run(tmp_path):
    got = verdicts(results_folder(tmp_path))
    assert set(got) == {c.id for c in CLAIMS} and set(got.values()) == {NOT_RUN}


def test_table1_depth_holds_fails_and_is_budget_limited_from_the_numbers(tmp_path):
    results = results_folder(tmp_path)
    for model in ("mingru", "minlstm"):
        copy_runs(results, model, 1, [0.40, 0.42, 0.41])
        copy_runs(results, model, 2, [0.97, 0.96, 0.98])
        copy_runs(results, model, 3, [0.99, 0.98, 0.99])
    got = verdicts(results)
    assert got["table1-depth"] == HOLDS and got["table2-minrnns-solve"] == HOLDS
    assert got["table1-stability"] in (HOLDS, PARTLY, FAILS, INCONCLUSIVE)
    copy_runs(results, "minlstm", 3, [0.75, 0.77, 0.76], best_step=2500)  # still improving at its last evaluation
    got = verdicts(results)
    assert got["table2-minrnns-solve"] == BUDGET and got["table1-depth"] == HOLDS
    copy_runs(results, "minlstm", 3, [0.75, 0.77, 0.76], best_step=1000)  # plateaued: the claim fails for minLSTM
    assert verdicts(results)["table2-minrnns-solve"] == PARTLY


def test_a_longer_run_decides_the_claim_when_it_exists(tmp_path):
    results = results_folder(tmp_path)
    copy_runs(results, "mingru", 3, [0.99, 0.99, 0.98])
    copy_runs(results, "minlstm", 3, [0.76, 0.77, 0.75], best_step=2500)
    assert verdicts(results)["table2-minrnns-solve"] == BUDGET
    for seed in range(3):
        metrics = {"test_acc": 0.97, "steps": 10000, "best_step": 9000, "stop_reason": "max_steps"}
        metrics["val_history"] = curve(0.97, 10000, 9000)
        write_summary(results, ["experiment=claims/copy_minlstm_long"], metrics, seed)
    row = next(r for r in evaluate(results, "cpu") if r["id"] == "table2-minrnns-solve")
    assert row["verdict"] == HOLDS and "minlstm 97.0% (10000 steps, n=3)" in row["ours"]


def test_figure5_holds_only_where_every_task_agrees_whatever_their_order(tmp_path):
    results = results_folder(tmp_path)

    def run(task, bias, seed, acc):  # a learning curve rising linearly to acc over the first 3 evaluations
        hist = [{"step": s, "val_acc": acc * s / 750, "val_loss": 1.0} for s in (250, 500, 750)]
        preset = {"copy": ["experiment=claims/figure5_copy"], "listops": ["experiment=figure5/minlstm"]}[task]
        if bias == 3.0:
            preset = {"copy": ["experiment=table2/minlstm"], "listops": ["experiment=table4/lra_minlstm"]}[task]
        else:
            preset = [*preset, f"model.net.block.rnn_kwargs.forget_bias={bias}"]
        write_summary(results, preset, {"test_acc": acc, "val_history": hist}, seed)

    run("copy", 0.0, 0, 0.50)
    run("copy", 3.0, 0, 0.79)
    run("copy", 3.0, 1, 0.81)  # bias 3: mean 0.8, its seeds close together
    run("copy", 5.0, 0, 0.85)
    got = {r["id"]: r for r in evaluate(results, "cpu")}["figure5-forget-bias"]
    assert got["verdict"] == HOLDS
    assert "bias 3 0.720 / 0.800 (n=2)" in got["ours"]  # mean over 10 evaluations: 9/10 of the last
    run("listops", 0.0, 0, 0.30)
    run("listops", 5.0, 0, 0.20)  # the second task disagrees: no longer holds, though selective copying comes first
    assert verdicts(results)["figure5-forget-bias"] == PARTLY
    run("copy", 5.0, 0, 0.40)  # and with selective copying against it too, it does not hold
    assert verdicts(results)["figure5-forget-bias"] == FAILS


def test_figure5_curves_that_cross_partly_hold(tmp_path):
    results = results_folder(tmp_path)

    def run(bias, accs):  # ListOps at CPU scale: 12 evaluations over 3000 steps
        hist = [{"step": 250 * (i + 1), "val_acc": a, "val_loss": 1.0} for i, a in enumerate(accs)]
        preset = ["experiment=figure5/minlstm", f"model.net.block.rnn_kwargs.forget_bias={bias}"]
        write_summary(results, preset, {"test_acc": accs[-1], "val_history": hist}, 0)

    run(0.0, [0.1] * 11 + [0.6])  # learns late, ends high
    run(5.0, [0.4] * 12)  # learns early, then stuck
    got = {r["id"]: r for r in evaluate(results, "cpu")}["figure5-forget-bias"]
    assert got["verdict"] == PARTLY and "bias 0 0.142 / 0.600 (n=1), bias 5 0.400 / 0.400 (n=1)" in got["ours"]


def test_chomsky_is_decided_by_the_longer_runs_of_a_task_when_they_exist(tmp_path):
    results = results_folder(tmp_path)
    paper = paper_reference("table4_chomsky_lra")
    ref = (paper.get("minrnn", {}).get("minLSTM") or paper["chomsky"]["minLSTM"])["majority"]

    def runs(preset, steps, acc, best_step):
        metrics = {"test_acc": acc, "steps": steps, "best_step": best_step, "stop_reason": "max_steps"}
        metrics["val_history"] = curve(acc, steps, best_step)
        write_summary(results, [f"experiment={preset}", "task.problem=majority"], metrics, 0)

    runs("table4/minlstm", 6000, ref - 0.3, 6000)  # far below the paper, still improving
    got = {r["id"]: r for r in evaluate(results, "cpu")}["table4-chomsky"]
    assert got["verdict"] == BUDGET and "majority -0.30 (6000 steps, n=1)" in got["ours"]
    runs("claims/chomsky_long_minlstm", 30000, ref - 0.01, 20000)
    got = {r["id"]: r for r in evaluate(results, "cpu")}["table4-chomsky"]
    assert got["verdict"] == HOLDS and "majority -0.01 (30000 steps, n=1)" in got["ours"]


def test_budget_limited_needs_an_improvement_beyond_the_seeds_spread(tmp_path):
    """A run best at its last evaluation by a hair (within the seed noise) is not evidence of a cut-short run."""
    results = results_folder(tmp_path)
    copy_runs(results, "mingru", 3, [0.99, 0.99, 0.98])
    for seed, acc in enumerate([0.75, 0.77, 0.76]):
        hist = [{"step": s, "val_acc": acc - 0.001 * k} for s, k in ((2000, 2), (2250, 1), (2500, 0))]  # < spread
        metrics = {"test_acc": acc, "steps": 2500, "best_step": 2500, "stop_reason": "max_steps", "val_history": hist}
        write_summary(results, ["experiment=table1/minlstm", "task.arch.depth=3"], metrics, seed)
    assert verdicts(results)["table2-minrnns-solve"] == PARTLY


def test_differences_within_the_seeds_spread_are_inconclusive(tmp_path):
    results = results_folder(tmp_path)
    copy_runs(results, "mingru", 1, [0.40, 0.42, 0.41])
    copy_runs(results, "mingru", 3, [0.97, 0.99, 0.98])
    copy_runs(results, "minlstm", 1, [0.40, 0.43, 0.41])
    copy_runs(results, "minlstm", 3, [0.96, 0.99, 0.97])
    assert verdicts(results)["table1-stability"] == INCONCLUSIVE  # stds 0.8-1.5: within a factor 2


def test_a_bad_results_file_is_left_out_not_a_crash(tmp_path):
    results = results_folder(tmp_path)
    copy_runs(results, "mingru", 1, [0.4])
    (results / "selective_copy" / "cpu" / "broken.json").write_text("{not json")
    assert verdicts(results)["table1-depth"] == NOT_RUN  # minLSTM missing; the broken file ignored


def test_the_committed_claims_are_what_the_committed_results_give(tmp_path):
    """As make claims computes them: every claim's rule, then the pre-registered outcomes of every complete
    seed matrix (minrnn.reports.prereg_decide; its verdict files go to tmp_path here)."""
    from minrnn.reports.prereg_decide import with_preregistered

    committed = json.loads((ROOT / "results" / "claims_cpu.json").read_text())["claims"]
    rows = with_preregistered(evaluate(ROOT / "results", "cpu"), ROOT / "results", tmp_path, "cpu")
    assert [(r["id"], r["verdict"], r["ours"]) for r in rows] == [(r["id"], r["verdict"], r["ours"]) for r in committed]


def test_the_claims_table_of_the_results_report_is_the_committed_claims():
    """Each claim's row in docs/results.md: its verdict and our evidence as results/claims_cpu.json has them
    (cut at 140)."""
    report = (ROOT / "docs" / "results.md").read_text()
    for r in json.loads((ROOT / "results" / "claims_cpu.json").read_text())["claims"]:
        ours = r["ours"] if len(r["ours"]) <= 140 else r["ours"][:137] + "..."
        assert f"| [{r['claim']}](../results/{r['table']}) | **{r['verdict']}** | {ours} |\n" in report, r["id"]


def test_make_claims_without_results_is_one_message(tmp_path):
    out = subprocess.run(
        [sys.executable, "scripts/make_claims.py", "--results", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 2 and "no run summaries" in out.stderr and "Traceback" not in out.stderr


def chomsky_runs(results: Path, model: str, accs: dict[str, float]) -> None:
    for task, acc in accs.items():
        for seed in range(3):
            metrics = {"test_acc": acc + 0.01 * seed, "steps": 6000, "best_step": 5000, "stop_reason": "max_steps"}
            metrics["val_history"] = curve(acc, 6000, 5000)
            write_summary(results, [f"experiment=table4/{model}", f"task.problem={task}"], metrics, seed)


def test_regular_tasks_at_chance_and_counting_tasks_decide_the_regular_vs_counting_row(tmp_path):
    results = results_folder(tmp_path)
    solved = {"cycle_nav": 0.9, "even_pairs": 1.0, "parity_check": 0.95, "majority": 0.4, "majority_count": 0.1}
    for model in ("mingru", "minlstm"):
        chomsky_runs(results, model, solved)
    assert verdicts(results)["table4-regular-vs-counting"] == HOLDS
    chomsky_runs(results, "mingru", {"parity_check": 0.5})  # at chance: not handled
    row = {r["id"]: r for r in evaluate(results, "cpu")}["table4-regular-vs-counting"]
    assert row["verdict"] == PARTLY and "parity_check 0.51 (chance 0.5)" in row["ours"]


def test_the_table4_average_is_not_run_without_all_nine_tasks_and_shows_the_subset(tmp_path):
    results = results_folder(tmp_path)
    chomsky_runs(results, "minlstm", {"even_pairs": 1.0, "majority": 0.5})
    row = {r["id"]: r for r in evaluate(results, "cpu")}["table4-average"]
    paper = paper_reference("table4_chomsky_lra")["chomsky"]["minLSTM"]
    same = (paper["even_pairs"] + paper["majority"]) / 2
    assert (
        row["verdict"] == NOT_RUN
        and f"the 2 tasks we ran: 0.76 (the paper's minLSTM on the same tasks: {same:.2f})" in row["ours"]
    )
    assert "missing bucket_sort" in row["ours"]


def test_parallel_equals_sequential_is_decided_by_the_float32_error_of_the_parallel_scan(tmp_path):
    results = results_folder(tmp_path)
    (results / "core").mkdir()

    def accuracy(log_err):
        rows = [
            {"T": 64, "backend": "sequential", "h_max_abs_err": 3e-7, "grad_rel_err": 1e-7},
            {"T": 64, "backend": "log", "h_max_abs_err": log_err, "grad_rel_err": 1e-5},
        ]
        (results / "core" / "scan_accuracy.json").write_text(json.dumps({"rows": rows}))
        return verdicts(results)["parallel-equals-sequential"]

    assert accuracy(1e-5) == HOLDS
    assert accuracy(1e-2) == FAILS


def test_table6_is_decided_by_two_standard_errors_of_the_difference_over_seeds(tmp_path):
    results = results_folder(tmp_path)

    def runs(preset, accs):
        for seed, acc in enumerate(accs):
            metrics = {"test_acc": acc, "steps": 3000, "best_step": 2000, "stop_reason": "max_steps"}
            metrics["val_history"] = curve(acc, 3000, 2000)
            write_summary(results, [f"experiment=table6/{preset}"], metrics, seed)

    runs("minlstm_plain", [0.32, 0.33, 0.34])
    runs("minlstm_conv_mlp", [0.31, 0.32, 0.33])  # 0.01 lower, standard error of the difference 0.008
    row = {r["id"]: r for r in evaluate(results, "cpu")}["table6-ablation"]
    assert row["verdict"] == INCONCLUSIVE and "2 standard errors 0.016" in row["ours"]
    runs("minlstm_conv_mlp", [0.37, 0.38, 0.39])  # 0.05 higher
    assert verdicts(results)["table6-ablation"] == HOLDS
    runs("minlstm_conv_mlp", [0.27, 0.28, 0.29])
    assert verdicts(results)["table6-ablation"] == FAILS


def recall_run(results: Path, model: str, L: int, P: int, width: int, acc: float, lr: float = 3e-3) -> None:
    overrides = [f"experiment=recall/{model}", f"task.seq_len={L}", f"task.num_kv_pairs={P}"]
    overrides += [f"task.arch.dim={width}", f"trainer.lr={lr}"]
    metrics = {"test_acc": acc, "val_acc": acc, "best_val": acc, "steps": 1500, "best_step": 1500}
    metrics |= {"stop_reason": "max_steps", "val_history": [{"step": 1500, "val_acc": acc}]}
    write_summary(results, overrides, metrics, 0)


def test_the_discussion_rows_are_decided_from_the_recall_runs(tmp_path):
    results = results_folder(tmp_path)
    recall_run(results, "transformer", 64, 4, 64, 1.0)
    recall_run(results, "mamba", 64, 4, 64, 0.97)  # as good as attention with 4 pairs
    recall_run(results, "mingru", 64, 4, 16, 0.20)
    recall_run(results, "mingru", 64, 4, 64, 0.50)  # rises with its state, above the guessing floor 1/4
    recall_run(results, "mingru_conv", 64, 4, 64, 0.51)  # the conv changes nothing here
    got = {r["id"]: r for r in evaluate(results, "cpu")}
    assert got["recall-attention"]["verdict"] == INCONCLUSIVE  # one setting, no gap
    assert got["recall-state-size"]["verdict"] == HOLDS and "0.20 -> 0.50" in got["recall-state-size"]["ours"]
    assert got["recall-convolution"]["verdict"] == INCONCLUSIVE
    recall_run(results, "transformer", 128, 8, 64, 1.0)
    recall_run(results, "mamba", 128, 8, 64, 0.15)  # with 8 pairs, far below attention
    row = {r["id"]: r for r in evaluate(results, "cpu")}["recall-attention"]
    assert row["verdict"] == PARTLY and "L128-P8: attention - best fixed-state = +0.85" in row["ours"]
    recall_run(results, "mamba", 64, 4, 64, 0.80)  # now less with 4 pairs too, and more so with 8
    assert verdicts(results)["recall-attention"] == HOLDS


def test_the_longer_runs_are_data_of_the_claims_code_and_name_existing_presets():
    """runs.yaml (package data) lists the longer runs; make claims-runs reads them through make_claims.py."""
    from minrnn.harness.config import CONFIGS
    from minrnn.reports.claims import longer_run_cells, longer_run_sweeps

    sweeps = longer_run_sweeps()
    assert "experiment=claims/figure5_copy seed=0,1 model.net.block.rnn_kwargs.forget_bias=0.0,5.0" in sweeps
    for _, overrides in longer_run_cells():
        assert (Path(CONFIGS) / "experiment" / f"{overrides[0].split('=', 1)[1]}.yaml").exists(), overrides
    out = subprocess.run(
        [sys.executable, "scripts/make_claims.py", "--longer-runs"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.splitlines() == sweeps
    assert "CLAIM_RUNS" not in (ROOT / "Makefile").read_text()


# ---- the verdict rules (machinery.py), each branch on synthetic runs -----------------------------------------


def run_of(curve_, steps=None, stop="max_steps", key="val_acc"):
    """A run summary's metrics from a validation curve (one evaluation every 100 steps)."""
    hist = [{"step": 100 * (i + 1), key: v} for i, v in enumerate(curve_)]
    steps = steps or hist[-1]["step"]
    best = max(hist, key=lambda h: h[key] if key == "val_acc" else -h[key])
    metrics = {"steps": steps, "stop_reason": stop, "val_history": hist, "best_step": best["step"]}
    return {"metrics": metrics | {"best_val": best[key]}}


def test_the_budget_rule_is_per_arm_by_its_own_seeds_spread():
    from minrnn.reports.claims.machinery import arm_still_improving, budget

    rising = [run_of([0.3, 0.4, 0.5]), run_of([0.31, 0.41, 0.52])]  # +0.2 over 2 evaluations, spread 0.014
    flat = [run_of([0.5, 0.5, 0.5]), run_of([0.9, 0.9, 0.9])]  # no rise
    noisy = [run_of([0.3, 0.3, 0.35]), run_of([0.9, 0.9, 0.8])]  # a rise within its seeds' spread
    assert arm_still_improving(rising) and not arm_still_improving(flat) and not arm_still_improving(noisy)
    assert not arm_still_improving([run_of([0.3, 0.4, 0.5], stop="solved")])  # stopped early: not the budget
    assert budget(FAILS, [flat, rising]) == BUDGET and budget(PARTLY, [flat]) == PARTLY
    assert budget(HOLDS, [rising]) == HOLDS and budget(NOT_RUN, [rising]) == NOT_RUN
    # pooled, the two arms' spread (0.4) would hide the rising arm; per arm it is seen
    assert budget(FAILS, [flat, [run_of([0.3, 0.35, 0.4])]]) == BUDGET


def test_the_guessing_floor_and_censored_ties_and_steps_to_target():
    from minrnn.reports.claims.machinery import above_floor, earlier, floor, steps_to_target

    assert floor(4) == 0.25 and not above_floor(0.26, floor(4)) and above_floor(0.5, floor(4))
    censored = [run_of([1.9, 1.8, 1.7], key="val_loss")]  # best at its last evaluation, at the budget
    done = [run_of([1.9, 1.7, 1.75], key="val_loss")]  # best at step 200 of 300
    assert earlier(censored, censored) is None  # a censored tie: never decided
    assert earlier(done, censored) is True and earlier(censored, done) is False
    assert earlier(done, [run_of([1.9, 1.8, 1.7, 1.75], key="val_loss")]) is True  # 200 before 300
    slow, fast = [run_of([2.0, 1.9, 1.8, 1.7], key="val_loss")], [run_of([1.9, 1.7, 1.6, 1.6], key="val_loss")]
    assert steps_to_target(slow, fast) == (2.0, 1.7, 1, 1)  # both reach 1.7: at 400 and 200 steps


def test_speed_is_decided_by_the_papers_algorithm_and_gpu_memory_is_not_run_on_cpu(tmp_path):
    results = results_folder(tmp_path)
    (results / "efficiency").mkdir()

    def bench(log_scan_ms):
        lines = ["model,T,status,ms_median,peak_mib"]
        for T, k in ((512, 1), (4096, 8)):
            ms = {"minGRU": 10, "GRU (plain loop)": 100, "GRU (torch.nn)": 80, "minGRU (log-space scan)": log_scan_ms}
            ms |= {m.replace("GRU", "LSTM"): v for m, v in ms.items()}
            lines += [f"{m},{T},ok,{v * k * (1 if 'log' in m else 1 + (T > 512))},100" for m, v in ms.items()]
        (results / "efficiency" / "training_cpu.csv").write_text("\n".join(lines) + "\n")
        return {r["id"]: r for r in evaluate(results, "cpu")}

    got = bench(log_scan_ms=50)  # the paper's algorithm 2x (T=512) to 4x (T=4096) faster: holds
    assert got["speedup"]["verdict"] == HOLDS and "log-space scan 2.0x the plain loop" in got["speedup"]["ours"]
    assert got["memory-vs-rnn"]["verdict"] == NOT_RUN and "not run (GPU memory)" in got["memory-vs-rnn"]["ours"]
    assert bench(log_scan_ms=200)["speedup"]["verdict"] == PARTLY  # only the fused kernel is faster


def test_log_space_stability_is_against_the_vanilla_scan(tmp_path):
    results = results_folder(tmp_path)
    (results / "core").mkdir()

    def stable(listing_err):
        rows = []
        for T in (64, 512, 4096, 65536):
            rows += [{"T": T, "backend": b, "h_nonfinite": 0.0, "h_max_abs_err": 1e-6} for b in ("cpu", "log")]
            rows.append(
                {
                    "T": T,
                    "backend": "vanilla parallel (App. B's comparator)",
                    "h_nonfinite": 0.0 if T < 512 else 0.9,
                    "h_max_abs_err": None,
                }
            )
            rows.append(
                {
                    "T": T,
                    "backend": "log, unchunked (Listing 5 as printed)",
                    "h_nonfinite": 0.0,
                    "h_max_abs_err": listing_err(T),
                }
            )
        (results / "core" / "scan_accuracy.json").write_text(json.dumps({"rows": rows}))
        return verdicts(results)["log-space-stable"]

    assert stable(lambda T: 1e-7 * T) == HOLDS  # within 1e-3 up to 4096; the error at 65536 is shown only
    assert stable(lambda T: 1e-9 * T * T) == PARTLY  # stable at 512, not at 4096
    assert stable(lambda T: 1.0) == FAILS


def test_mamba_early_is_a_censored_tie_when_every_best_is_the_last_evaluation(tmp_path):
    results = results_folder(tmp_path)

    def lm(model, losses):
        m = run_of(losses, key="val_loss")["metrics"]
        write_summary(results, [f"experiment=figure2/{model}"], m | {"test_loss": m["best_val"]}, 0)

    for model in ("mamba", "mingru", "minlstm"):
        lm(model, [2.0, 1.95, 1.9, 1.85, 1.8])
    assert verdicts(results)["figure2-mamba-early"] == BUDGET
    lm("mamba", [2.0, 1.7, 1.7, 1.7, 1.71])  # Mamba's best before its budget, the others' at it
    assert verdicts(results)["figure2-mamba-early"] == HOLDS
    lm("mingru", [2.0, 1.6, 1.6, 1.6, 1.61])  # minGRU's best at step 200 too: Mamba is not earlier
    lm("minlstm", [1.6, 1.65, 1.7, 1.7, 1.7])
    assert verdicts(results)["figure2-mamba-early"] == FAILS


def test_the_claims_rows_name_their_preregistered_seed_matrices():
    from minrnn.reports.preregistration import load

    claims = json.loads((ROOT / "results/claims_cpu.json").read_text())["claims"]
    marked = {r["id"]: r["preregistered"] for r in claims if r["preregistered"]}
    expected: dict = {}
    for v in load(ROOT / "results/preregistration/preregistration.yaml").verdicts:
        expected.setdefault(v.claim, []).append(v.id)
    assert marked == expected


def test_a_report_whose_content_did_not_change_is_not_rewritten_for_its_provenance(tmp_path, monkeypatch):
    """Issue #36: make claims / make tables twice leave a clean tree; provenance alone is not a change."""
    from minrnn.reports import render

    path = tmp_path / "claims_cpu.json"
    assert render.write_result_json(path, {"claims": [1], "provenance": {"date": "monday"}})
    before = path.read_bytes()
    assert not render.write_result_json(path, {"claims": [1], "provenance": {"date": "tuesday"}})
    assert path.read_bytes() == before
    assert render.write_result_json(path, {"claims": [2], "provenance": {"date": "tuesday"}})
    assert json.loads(path.read_text()) == {"claims": [2], "provenance": {"date": "tuesday"}}
    fig = render.pyplot().figure()  # a figure drawn twice is the same bytes: no creation date in the PDF
    first = render.save_figure(fig, tmp_path / "f")[1].read_bytes()
    fig = render.pyplot().figure()
    assert render.save_figure(fig, tmp_path / "f")[1].read_bytes() == first


@pytest.mark.parametrize("docs", ["missing.md", "no-markers.md", "a-folder"])
def test_a_bad_docs_argument_is_refused_before_any_file_is_written(tmp_path, docs, capsys):
    """make_claims --docs is read and checked before the claims files are written (write after validate)."""
    import argparse

    from minrnn import cli
    from minrnn.reports.claims import machinery

    (tmp_path / "no-markers.md").write_text("# results\n")
    (tmp_path / "a-folder").mkdir()
    out = tmp_path / "out"
    ap = argparse.ArgumentParser(prog="make_claims")
    machinery.add_arguments(ap)
    argv = ["--scale", "cpu", "--results", str(ROOT / "results"), "--out", str(out), "--docs", str(tmp_path / docs)]
    assert cli.run(machinery.run, ap, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and docs in err and not out.exists(), err


def test_the_docs_claims_table_is_rewritten_from_the_rows(tmp_path):
    from minrnn.reports.claims import machinery

    doc = tmp_path / "results.md"
    doc.write_text((ROOT / "docs/results.md").read_text())
    rows = json.loads((ROOT / "results/claims_cpu.json").read_text())["claims"]
    machinery.update_docs(doc, machinery.docs_text(doc), rows)
    assert doc.read_text() == (ROOT / "docs/results.md").read_text()  # the committed table is current
