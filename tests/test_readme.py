"""The README stays short and true: its numbers are checked against the results files they come from,
its claims line against results/claims_cpu.json, and every file it links to exists."""

import collections
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# every number of the README's results section, and the committed file that holds it
HEADLINES = {
    "98.9 ± 0.7": "results/tables/table2_cpu.md",
    "99.1 ± 0.6": "results/tables/table2_cpu.md",
    "75.1 ± 3.0": "results/tables/table2_cpu.md",
    "99.2": "results/tables/table2_cpu.md",
    "4.91x": "results/efficiency/efficiency_cpu.md",
    "4.00x": "results/efficiency/efficiency_cpu.md",
    "1.548": "results/claims_cpu.md",
    "1.550": "results/claims_cpu.md",
    "1.748": "results/figures/figure2_cpu.md",  # the 600-step runs make reproduce prints
    "1.796": "results/figures/figure2_cpu.md",
}


def test_the_readme_is_short():
    assert README.count("\n") <= 200


def test_the_claims_line_counts_the_committed_verdicts():
    claims = json.loads((ROOT / "results/claims_cpu.json").read_text())["claims"]
    paper = [r for r in claims if r.get("section", "paper") == "paper"]
    n = collections.Counter(r["verdict"] for r in paper)
    m = re.search(
        r"of the paper's (\d+) claims, (\d+) (holds?),\n(\d+) partly, (\d+) (does|do) not, (\d+) (is|are) "
        r"inconclusive, (\d+) budget-limited, (\d+) (needs?) data, a GPU or\nmamba-ssm's kernel\.",
        README,
    )
    assert m, "no claims line in the README"
    total, holds, v1, partly, fails, v2, open_, v3, limited, not_run, v4 = m.groups()
    assert [int(total), int(holds), int(partly), int(fails), int(open_), int(limited), int(not_run)] == [
        len(paper), n["holds"], n["partly holds"], n["does not hold"], n["inconclusive"], n["budget-limited"],
        n["not run"],
    ]  # fmt: skip
    for count, verb, one in ((holds, v1, "holds"), (fails, v2, "does"), (open_, v3, "is"), (not_run, v4, "needs")):
        assert (verb == one) == (int(count) == 1), f"{count} {verb}"  # 1 holds, 10 hold


def test_every_headline_number_is_in_the_results_file_it_comes_from():
    section = README[README.index("## Three results") : README.index("## Layout")]
    numbers = set(re.findall(r"\d+\.\d+(?: ± \d+\.\d+)?x?", section)) - {"2.5", "1.555", "99.5", "99.8", "96.0"}
    assert numbers <= set(HEADLINES), numbers - set(HEADLINES)  # the paper's numbers aside, each one is listed
    for number, source in HEADLINES.items():
        assert number in section and number in (ROOT / source).read_text(), (number, source)


def test_each_headline_says_its_budget_beside_it():
    """Issue #36: a headline number says how long its runs trained, and the Figure 2 headline names both the
    longer runs' budget and the presets' that make reproduce prints (the figure's table)."""
    section = README[README.index("## Three results") : README.index("## Layout")]
    for item in section.split("\n- ")[1:]:
        assert re.search(r"\d[\d,]* steps|T = \d+", item), item
    figure2 = (ROOT / "results/figures/figure2_cpu.md").read_text()
    steps = {int(row.split("|")[4]) for row in figure2.splitlines() if row.startswith("| min")}
    assert steps == {600} and "presets' 600 steps, which `make reproduce` prints" in " ".join(section.split())


def test_every_linked_file_exists():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "results/README.md"]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"


def test_the_reliability_counts_are_the_last_fault_injection_run():
    faults = json.loads((ROOT / "results/reliability/faults.json").read_text())
    text = " ".join((ROOT / "docs/reliability.md").read_text().split())
    trials, bad = faults["trials"], faults["bad_inputs"]
    assert f"{len(trials)} training runs interrupted" in text
    assert f"{sum(t['ok'] for t in trials)}/{len(trials)} ended with final metrics" in text
    assert f"{len(bad)} bad inputs" in text and f"{sum(b['ok'] for b in bad)}/{len(bad)} got one message" in text
    assert f"{faults['network']['seconds']} s in all" in text
