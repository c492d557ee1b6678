"""The claims of the discussion the paper started, not the paper's own (recall against attention, state size,
the short convolution; parity): registered with ``section="discussion"`` and reported apart.
"""

from __future__ import annotations

from minrnn.reports.claims.machinery import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    MARGIN,
    NOT_RUN,
    PARTLY,
    Evidence,
    Verdict,
    above_floor,
    claim,
    floor,
    mean,
)

# ---- The discussion the paper started (not the paper's claims): recall and state tracking -------------------

RECALL_MARGIN = MARGIN  # accuracy: one seed on 512 test sequences measures to about 0.01; a gap counts past 0.05


def recall_floor(setting: str) -> float:
    """MQAR's guessing floor: the answer is one of the setting's k values in context ("L64-P4": 1/4)."""
    return floor(int(setting.split("-P")[1]))


def _recall(ev: Evidence) -> dict:
    from minrnn.reports.recall import collect

    return collect(ev.results, ev.scale)[0]


@claim("recall-attention", "discussion: Zoology (Arora et al. 2023)", "recall/recall_{scale}.md", section="discussion")
def _recall_attention(ev: Evidence) -> Verdict:
    """fixed-state models recall less than attention, more so as the number of key-value pairs grows"""
    best = _recall(ev)
    if not best:
        return Verdict(NOT_RUN, "no MQAR runs (make reproduce-recall)")
    gaps = {}
    for setting, models in best.items():
        if "transformer" not in models:
            continue
        attention = max(r["metrics"]["test_acc"] for r in models["transformer"].values())
        fixed = max(
            (r["metrics"]["test_acc"] for v, w in models.items() if v != "transformer" for r in w.values()),
            default=None,
        )
        if fixed is not None:
            gaps[setting] = attention - fixed
    if not gaps:
        return Verdict(NOT_RUN, "no setting with both the Transformer and a fixed-state model")
    ordered = [gaps[s] for s in sorted(gaps, key=lambda s: int(s.split("-P")[1]))]
    ours = "; ".join(f"{s}: attention - best fixed-state = {g:+.2f}" for s, g in sorted(gaps.items()))
    grows = len(ordered) > 1 and ordered[-1] - ordered[0] > RECALL_MARGIN
    if all(g > RECALL_MARGIN for g in ordered):  # less everywhere; holds if the gap does not shrink with pairs
        if len(ordered) < 2:
            return Verdict(PARTLY, ours + " (one setting: the growth with pairs is not measured)")
        return Verdict(HOLDS if ordered[-1] >= ordered[0] - RECALL_MARGIN else PARTLY, ours)
    if ordered[-1] > RECALL_MARGIN and grows:  # as good with few pairs, less with the most: the gap grows
        return Verdict(PARTLY, ours + " (less than attention only with the most pairs; the gap grows with them)")
    return Verdict(FAILS if all(g < -RECALL_MARGIN for g in ordered) else INCONCLUSIVE, ours)


@claim("recall-state-size", "discussion: Zoology (Arora et al. 2023)", "recall/recall_{scale}.md", section="discussion")
def _recall_state(ev: Evidence) -> Verdict:
    """recall improves with the size of the recurrent state

    Per model and setting, the smallest width against the largest. The guessing floor (1/k, k the pairs)
    bounds every reading: a pair whose accuracies are both within the margin of the floor is guessing at
    either size and decides nothing; a rise counts when the larger state recalls above the floor."""
    best = _recall(ev)
    parts, up, down, guessing = [], 0, 0, 0
    for setting, models in sorted(best.items()):
        chance = recall_floor(setting)
        for v, widths in sorted(models.items()):
            if v == "transformer" or len(widths) < 2:
                continue
            small, large = widths[min(widths)]["metrics"]["test_acc"], widths[max(widths)]["metrics"]["test_acc"]
            at_floor = not above_floor(small, chance) and not above_floor(large, chance)
            parts.append(f"{setting} {v}: {small:.2f} -> {large:.2f}" + (" (guessing)" if at_floor else ""))
            guessing += at_floor
            up += not at_floor and large - small > RECALL_MARGIN and above_floor(large, chance)
            down += not at_floor and small - large > RECALL_MARGIN
    if not parts:
        return Verdict(NOT_RUN, "no fixed-state model at two widths (make reproduce-recall)")
    decided = len(parts) - guessing
    verdict = HOLDS if decided and up == decided else PARTLY if up else FAILS if down else INCONCLUSIVE
    ours = f"{up} of {len(parts)} rise above the guessing floor 1/k by more than {RECALL_MARGIN}, {down} fall, "
    ours += f"{guessing} guess at both sizes: " + "; ".join(parts)
    return Verdict(verdict, ours, "guessing floor 1/k (k key-value pairs)")


@claim("recall-convolution", "discussion: arXiv 2505.15105", "recall/recall_{scale}.md", section="discussion")
def _recall_conv(ev: Evidence) -> Verdict:
    """a short convolution before the minRNN matters for its recall"""
    best = _recall(ev)
    parts, better, worse, guessing = [], 0, 0, 0
    for setting, models in sorted(best.items()):
        chance = recall_floor(setting)
        for base in ("mingru", "minlstm"):
            for width in sorted(set(models.get(base, {})) & set(models.get(f"{base}_conv", {}))):
                a = models[base][width]["metrics"]["test_acc"]
                b = models[f"{base}_conv"][width]["metrics"]["test_acc"]
                at_floor = not above_floor(a, chance) and not above_floor(b, chance)
                parts.append(f"{setting} {base} w{width}: {a:.2f} -> {b:.2f} with Conv4" + (" (guessing)" * at_floor))
                guessing += at_floor
                better += b - a > RECALL_MARGIN and above_floor(b, chance)
                worse += a - b > RECALL_MARGIN and above_floor(a, chance)
    if not parts:
        return Verdict(NOT_RUN, "no minRNN with and without Conv4 at the same width (make reproduce-recall)")
    n = len(parts) - guessing  # pairs guessing with and without the convolution decide nothing
    verdict = (
        HOLDS
        if n and better > n / 2
        else FAILS
        if n and worse > n / 2
        else INCONCLUSIVE
        if not better and not worse
        else PARTLY
    )
    ours = f"{better} of {len(parts)} better by more than {RECALL_MARGIN} ({guessing} guess either way): "
    return Verdict(verdict, ours + "; ".join(parts), "guessing floor 1/k (k key-value pairs)")


@claim("parity", "discussion: Grazzi et al. (ICLR 2025)", "tables/table4_{scale}.md", section="discussion")
def _parity(ev: Evidence) -> Verdict:
    """minGRU and minLSTM cannot track parity (gates with positive diagonal transitions), while GRU and LSTM can"""
    acc = {}
    for model in ("mingru", "minlstm", "gru", "lstm"):
        runs = ev.runs("chomsky/parity_check", "test_acc", [f"experiment=table4/{model}", "task.problem=parity_check"])[
            0
        ]
        if not runs:
            return Verdict(NOT_RUN, f"Parity runs of {model} missing (make reproduce-table4)")
        acc[model] = (mean(runs, "test_acc"), len(runs))
    ours = ", ".join(f"{m} {a:.2f} (n={n})" for m, (a, n) in acc.items())
    chance = all(abs(acc[m][0] - 0.5) < RECALL_MARGIN for m in ("mingru", "minlstm"))
    tracked = all(acc[m][0] > 0.95 for m in ("gru", "lstm"))
    return Verdict(HOLDS if chance and tracked else PARTLY if chance or tracked else FAILS, ours, "chance is 0.5")
