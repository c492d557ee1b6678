"""Numbers in the docs generated from results/ (minrnn/reports/docs.py): each committed block
equals what its generator makes from the committed results, and a block is rewritten in place."""

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minrnn.reader import read_json
from minrnn.reports import docs as doc_blocks

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", list(doc_blocks.BLOCKS))
def test_each_generated_block_in_the_docs_equals_its_results(name):
    doc, make = doc_blocks.BLOCKS[name]
    assert doc_blocks.read_block(ROOT / doc, name) == make(ROOT / "results").strip("\n")


def test_a_block_is_rewritten_between_its_markers_and_nothing_else_changes(tmp_path):
    start, end = doc_blocks.markers("x")
    text = f"before\n{start}\nold 1.0\n{end}\nafter\n"
    assert doc_blocks.replace_block(text, "x", "new 2.0") == f"before\n{start}\nnew 2.0\n{end}\nafter\n"


def copy_docs(root: Path) -> dict[str, str]:
    """Each doc of BLOCKS copied under ``root``: {doc: its text}."""
    texts = {doc: (ROOT / doc).read_text() for doc, _ in doc_blocks.BLOCKS.values()}
    for doc, text in texts.items():
        (root / doc).parent.mkdir(parents=True, exist_ok=True)
        (root / doc).write_text(text)
    return texts


@pytest.mark.parametrize("missing", ["claims_cpu.json", "tables/table4_cpu.md", "figures/figure5_cpu.md"])
def test_a_missing_result_leaves_every_doc_as_it_was(tmp_path, missing):
    """Every block is made before the first doc is written (write after validate): a result missing
    for a late block does not leave the earlier blocks' docs rewritten."""
    import shutil

    texts = copy_docs(tmp_path)
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results, ignore=shutil.ignore_patterns("*.png", "*.pdf"))
    (results / missing).unlink()
    for doc, _ in doc_blocks.BLOCKS.values():  # every block stale: each would be rewritten
        (tmp_path / doc).write_text(re.sub(r"(<!-- generated: \S+ .*?-->\n)", r"\1stale\n", texts[doc]))
    stale = {doc: (tmp_path / doc).read_text() for doc in texts}
    with pytest.raises(ValueError, match=re.escape(missing.rsplit("/", 1)[-1])):
        doc_blocks.regenerate(tmp_path, results)
    assert {doc: (tmp_path / doc).read_text() for doc in texts} == stale
    assert doc_blocks.regenerate(tmp_path, ROOT / "results") == list(doc_blocks.BLOCKS)
    assert {doc: (tmp_path / doc).read_text() for doc in texts} == texts


def test_a_document_without_the_markers_is_one_message(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text("no markers\n")
    with pytest.raises(ValueError, match="has no block 'x'"):
        doc_blocks.read_block(path, "x")


def test_the_layer_benchmark_block_shows_the_reset_path():
    assert "packed sequences (a reset every 256 steps)" in doc_blocks.layer_benchmark(ROOT / "results")


def _rows(path: Path, change) -> None:
    """Rewrite the CSV at ``path`` with ``change(rows)`` (its header kept)."""
    import csv

    with path.open() as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, change(list(reader))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)


BROKEN = {  # a result that is there but not what its block needs: (the file named, how it is broken)
    "no Transformer at batch 64": ("efficiency/inference_cpu.csv", lambda p: _rows(p, lambda rows: [
        r for r in rows if (r["model"], r["batch"]) != ("Transformer", "64")])),
    "a cell that is not a number": ("efficiency/inference_cpu.csv", lambda p: _rows(p, lambda rows: [
        {**r, "ms_per_token": "n/a"} for r in rows])),
    "an empty CSV": ("efficiency/inference_cpu.csv", lambda p: p.write_text("")),
    "no row with status ok": ("efficiency/inference_cpu.csv", lambda p: _rows(p, lambda rows: [
        {**r, "status": "oom"} for r in rows])),
    "a zero KV cache at prefill": ("efficiency/inference_cpu.csv", lambda p: _rows(p, lambda rows: [
        {**r, "state_kib_prefill": "0"} for r in rows])),
    "no compiled_step folder": ("compiled_step/inference_cpu.json", lambda p: shutil.rmtree(p.parent)),
    "two sessions": ("efficiency/inference_cpu.json", lambda p: p.write_text('{"sessions": [{}, {}]}')),
    "an empty compiled_step CSV": ("compiled_step/inference_cpu.csv", lambda p: _rows(p, lambda rows: [])),
    "figure 1 without rows": ("efficiency/training_cpu.csv", lambda p: _rows(p, lambda rows: [])),
    "no torch.nn.LSTM at T = 1024": ("efficiency/training_cpu.csv", lambda p: _rows(p, lambda rows: [
        r for r in rows if (r["model"], r["T"]) != ("LSTM (torch.nn)", "1024")])),
    "a zero step time": ("efficiency/training_cpu.csv", lambda p: _rows(p, lambda rows: [
        {**r, "ms_median": "0"} for r in rows])),
    "a step time that is nan": ("efficiency/training_cpu.csv", lambda p: _rows(p, lambda rows: [
        {**r, "ms_median": "nan"} for r in rows])),  # was 'nanx faster' written into docs/results.md
    "an infinite peak memory": ("efficiency/training_cpu.csv", lambda p: _rows(p, lambda rows: [
        {**r, "peak_mib": "inf"} for r in rows])),
    "a negative time per token": ("efficiency/inference_cpu.csv", lambda p: _rows(p, lambda rows: [
        {**r, "ms_per_token": "-1.5"} for r in rows])),
    "a second session": ("efficiency/training_cpu.json", lambda p: p.write_text(
        p.read_text().replace('"sessions": [', '"sessions": [{}, '))),
    "a training benchmark without its batch": ("efficiency/training_cpu.json", lambda p: p.write_text(
        p.read_text().replace('"batch"', '"batches"'))),
    "a layer benchmark without a model": ("bench/layers.json", lambda p: p.write_text(
        p.read_text().replace('"model": "nn.GRU (fused)"', '"model": "other"'))),
    "claims that are a list": ("claims_cpu.json", lambda p: p.write_text('{"claims": 3}')),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_result_that_is_not_what_its_block_needs_is_one_message_naming_it(tmp_path, case, capsys):
    """make_docs: a missing row, a cell that is not a number, an empty table, a status other than ok, a
    missing folder: one line naming the file, exit 2, every doc as it was (no KeyError, no traceback)."""
    from minrnn.reader import UnreadableFile

    texts = copy_docs(tmp_path)
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results, ignore=shutil.ignore_patterns("*.png", "*.pdf"))
    named, breaks = BROKEN[case]
    target = results / ("efficiency/" + named if named.startswith("compiled_step") else named)
    breaks(target)
    for doc, _ in doc_blocks.BLOCKS.values():  # every block stale: each would be rewritten
        (tmp_path / doc).write_text(re.sub(r"(<!-- generated: \S+ .*?-->\n)", r"\1stale\n", texts[doc]))
    stale = {doc: (tmp_path / doc).read_text() for doc in texts}
    with pytest.raises(UnreadableFile) as error:
        doc_blocks.regenerate(tmp_path, results)
    assert error.value.path == target, str(error.value)
    assert {doc: (tmp_path / doc).read_text() for doc in texts} == stale
    with pytest.MonkeyPatch.context() as m:  # the command: one line and exit 2
        regenerate = doc_blocks.regenerate
        m.setattr(doc_blocks, "regenerate", lambda: regenerate(tmp_path, results))
        assert doc_blocks.run() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err and "Traceback" not in err, err


HOSTILE_DEVICE = {
    "a device name that ends the block": "EPYC <!-- end: training -->",
    "a device name with a lone surrogate": "caf\udce9",  # JSON can hold one; UTF-8 cannot
}


@pytest.mark.parametrize("case", list(HOSTILE_DEVICE))
def test_text_from_a_result_that_would_break_its_doc_is_one_message_and_nothing_written(tmp_path, case, capsys):
    """A device name is copied into the training paragraph as it is: one that holds a block's end marker, or
    a character UTF-8 cannot write, is refused naming the doc and block; every doc as it was; non-ASCII is
    kept (\u00e9, \u00b5)."""
    import json

    texts = copy_docs(tmp_path)
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results, ignore=shutil.ignore_patterns("*.png", "*.pdf"))
    path = results / "efficiency/training_cpu.json"
    rec = read_json(path)
    rec["sessions"][0]["device_name"] = HOSTILE_DEVICE[case]
    path.write_text(json.dumps(rec))
    for doc, _ in doc_blocks.BLOCKS.values():
        (tmp_path / doc).write_text(re.sub(r"(<!-- generated: \S+ .*?-->\n)", r"\1stale\n", texts[doc]))
    stale = {doc: (tmp_path / doc).read_text() for doc in texts}
    with pytest.MonkeyPatch.context() as m:
        regenerate = doc_blocks.regenerate
        m.setattr(doc_blocks, "regenerate", lambda: regenerate(tmp_path, results))
        assert doc_blocks.run() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "block 'training'" in err and "Traceback" not in err, err
    assert {doc: (tmp_path / doc).read_text() for doc in texts} == stale
    rec["sessions"][0]["device_name"] = "Caf\u00e9 \u00b5-EPYC"
    path.write_text(json.dumps(rec))
    assert "training" in doc_blocks.regenerate(tmp_path, results)
    assert "on Caf\u00e9 \u00b5-EPYC with" in (tmp_path / "docs/results.md").read_text()


# ---- every number traced (issue #35, part 4) ----------------------------------------------------------------
#
# A prose number is a token: digits (thousands commas allowed) with an optional decimal part, not part of a
# longer number or name ("13.0" is not a token of "2.13.0"), with the unit that follows it. It is traced when
# a committed results file (or the paper's numbers, paper_reference.json) holds the same number with the same
# unit: written beside it ("5.5 GiB"), as the value of a JSON key or CSV column whose name names the unit
# ("peak_mib", "ms_median"), or in a Markdown table column whose header names it ("total s"). Checked: every
# decimal, and every integer with a unit of time or memory. Left out as structure: generated blocks, the
# claims table, code, links, and a number named by what precedes it (STRUCTURE: Table 2, §4.1, v3, T = 4096 -- a
# setting of configs/, Python 3.11); ALLOWED lists the few others, each with its reason.

UNITS = {
    **{"gib": "GiB", "mib": "MiB", "kib": "KiB", "gb": "GB", "mb": "MB", "kb": "KB", "x": "x", "×": "x", "%": "%"},
    **{"ms": "ms", "milliseconds": "ms", "s": "s", "sec": "s", "seconds": "s", "second": "s"},
    **{"min": "min", "minutes": "min", "minute": "min", "h": "h", "hours": "h", "hour": "h"},
    **{
        "seeds": "n",
        "seed": "n",
        "runs": "n",
        "run": "n",
    },  # a count of runs ("3 seeds"): checked where a paragraph cites its files
}  # a unit spelled out ("40 seconds") is the unit: before 2026-12-08 such an integer was no token at all
UNIT_RE = "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True))
# A sign belongs to its number (-0.0183, with U+2212 read as "-"); an exponent too (4.6e-3, normalised "4.6e-3"):
# before 2026-12-08 both made the number no token at all, and so did either end of a range (0.5-0.9, 2.4/2.5).
NUMBER = re.compile(
    r"(?<![\w.\-−/=#§])((?:(?<![\d])[-−])?(?:\d{1,3}(?:,\d{3})+|\d+))(\.\d+)?((?:e[-+−]?\d+)?)"
    r"(?:\s?(" + UNIT_RE + r")(?![\w])|(?![\w]|\.\d|,\d{3}))",
    re.I,
)
RANGE = re.compile(r"(?<=\d)[-–/](?=\d)")  # 0.5-0.9, 8.0–8.9, 2.4/2.5: each end is a number of its own
PLUS_MINUS = re.compile(r"(\d+\.\d+) ± (\d+\.\d+)")  # a spread carries its mean's unit: 98.9 ± 0.7%
SPREAD = re.compile(r"(?<![\w.])(\d+\.\d+)-(\d+\.\d+)(" + UNIT_RE + r")(?![\w])", re.I)  # a card's range of ratios
TIME_OR_MEMORY = {"GiB", "MiB", "KiB", "ms", "s", "min", "h"}
STRUCTURE = re.compile(  # a word of its own ("dev 13.0 GiB" and "tissue 2 s" were structure before 2026-12-08)
    r"(?<![\w])(Tables?|Figures?|Sections?|App\.|Appendix|Listings?|Algorithms?|issues?|v|l\.|Python|torch|arXiv|"
    r"T =|T=|sm_|width|dim|batch|context|expansion|Table \d's)\s*$"
)
KEY_UNITS = {"gib": "GiB", "mib": "MiB", "kib": "KiB", "ms": "ms", "seconds": "s", "_s": "s", "min": "min"}
ALLOWED = {
    ("docs/gpus.md", "6.0"): "a GPU's compute capability (NVIDIA's, a hardware constant)",
    ("docs/gpus.md", "7.0"): "a GPU's compute capability",
    ("docs/gpus.md", "7.5"): "a GPU's compute capability",
    ("docs/gpus.md", "8.0"): "a GPU's compute capability",
    ("docs/gpus.md", "9.0"): "a GPU's compute capability",
    ("docs/gpus.md", "8.6"): "a GPU's compute capability (in a wheel's list of architectures)",
    ("docs/gpus.md", "12.9"): "a CUDA toolkit version (a build's name), not a measurement",
    (
        "docs/results.md",
        "1.3",
    ): "issue 17's target (a token at T = 4096 at most 1.3x its cost at 512), not a measurement",
    ("docs/recall.md", "4.6e-4"): "a learning rate of the paper-scale grid (a setting: --lrs), not a measurement",
    ("docs/results.md", "32"): "glibc's largest mmap threshold (32 MiB on 64-bit), a constant, not a measurement",
}

# Not structure: numbers of docs/results.md's prose whose file holds them in another unit or rounding
# (GiB and KiB per token from peak_mib, ms from ms_median) -- to be generated from their files (issue #35
# part 4, left open); listed so that the list can only shrink (test below), never silently grow. The
# inference paragraph's twelve left it on 2026-12-07: it is generated now (minrnn.reports.docs, "inference"),
# and so is Figure 1's training paragraph since 2026-12-07 ("training": 5.5 GiB, 22 KiB, 2.2x, 0.82x left).
# Ratios written against their unit ("2.7x") were no tokens at all before 2026-12-07 (the unit was read only
# after a space): the four such that no file holds yet joined this list then.
UNTRACED_YET: set[tuple[str, str]] = set()  # empty since 2026-12-07: 271 -> 271.2 ms; 2.43x, 2.7x dropped


def _unit(word: str | None) -> str | None:
    return UNITS.get(word.lower()) if word else None


def token(m: re.Match) -> str:
    """A NUMBER match as one spelling: U+2212 as "-", the exponent as "e" and an integer (4.6e-3)."""
    number = (m.group(1) + (m.group(2) or "")).replace("−", "-")
    if m.group(3):
        number += f"e{int(m.group(3)[1:].replace('−', '-'))}"
    return number


def prose(text: str) -> str:
    """A document without what is generated or code: the claims table, generated blocks, code blocks."""
    text = re.sub(
        r"<!-- claims table: generated by make claims -->.*?<!-- end of the claims table -->", "", text, flags=re.S
    )
    text = re.sub(r"<!-- generated: (\S+).*?<!-- end: \1 -->", "", text, flags=re.S)
    return re.sub(r"```.*?```", "", text, flags=re.S)


def prose_numbers(path: Path, text: str | None = None, counts: bool = False) -> list[tuple[str, str | None]]:
    """The (number, unit) tokens of a document's prose that must be traced (the block comment above);
    ``text``: a part of it (a paragraph) instead of the whole; ``counts``: run counts too ("3 seeds")."""
    text = prose(path.read_text() if text is None else text)
    text = re.sub(r"`[^`\n]*`|\]\([^)]*\)|arXiv \d{4}\.\d{4,5}|\d{4}-\d\d-\d\d", "", text)
    text = RANGE.sub(" ", text)
    out = []
    for m in NUMBER.finditer(text):
        number, unit = token(m), _unit(m.group(4))
        if STRUCTURE.search(text[max(0, m.start() - 14) : m.start()]):
            continue
        if m.group(2) or unit in TIME_OR_MEMORY or (counts and unit == "n"):
            out.append((number, unit))
    return out


def _key_units(name: str) -> set[str]:
    name = name.lower()
    if name == "n":  # a JSON "n" or a Markdown column "n": a count of runs
        return {"n"}
    return {u for tag, u in KEY_UNITS.items() if tag in name} | ({_unit(w) for w in re.split(r"\W+", name)} - {None})


RESULT_SUFFIXES = (".md", ".csv", ".json")


def traced_numbers(files: list[Path] | None = None) -> set[tuple[str, str | None]]:
    """Every (number, unit) the committed results files hold (the block comment above), or ``files``."""
    import csv
    import io
    import json

    if files is None:
        files = [p for p in (ROOT / "results").rglob("*") if p.suffix in RESULT_SUFFIXES and p.name != "README.md"]
    pairs: set[tuple[str, str | None]] = set()
    means: set[tuple[str, str]] = set()  # (mean, spread) of "98.9 ± 0.7": the spread in its mean's units

    def add(value: str, units) -> None:
        for u in {None, *units}:
            pairs.update({(value, u), (value.replace(",", ""), u)})

    for path in [*files, ROOT / "minrnn" / "reports" / "paper_reference.json"]:
        text = path.read_text()
        for m in NUMBER.finditer(RANGE.sub(" ", text)):
            add(token(m), {_unit(m.group(4))} - {None})
        means.update(PLUS_MINUS.findall(text))
        for n in re.findall(r"\bn ?= ?(\d+)\b", text):  # "(n=6)": a count of runs
            add(n, {"n"})
        for m in SPREAD.finditer(text):  # "unreliable (3.30-4.78x)": both ends, with the unit after the second
            add(m.group(1), {_unit(m.group(3))}), add(m.group(2), {_unit(m.group(3))})
        if path.suffix == ".json":

            def walk(node, key=""):
                if isinstance(node, dict):
                    for k, v in node.items():
                        walk(v, k)
                elif isinstance(node, list):
                    for v in node:
                        walk(v, key)
                elif isinstance(node, (int, float)) and not isinstance(node, bool):
                    for f in (f"{node}", f"{node:.0f}", f"{node:.1f}", f"{node:.2f}", f"{node:.3f}", f"{node:.4f}"):
                        add(f, _key_units(key))
                    for f in (f"{node:.0e}", f"{node:.1e}", f"{node:.2e}"):  # 4.6e-3 as prose writes it
                        mantissa, exponent = f.split("e")
                        add(f"{mantissa}e{int(exponent)}", _key_units(key))

            walk(json.loads(text))
        rows = []
        if path.suffix == ".csv":
            rows = list(csv.DictReader(io.StringIO(text)))
        elif path.suffix == ".md":  # Markdown tables: each cell under its column's header
            header = None
            for line in text.splitlines():
                cells = [c.strip(" *") for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
                if cells is None:
                    header = None
                elif header is None:
                    header = cells
                elif not set(line) <= set("|-: "):
                    rows.append(dict(zip(header, cells, strict=False)))
        for row in rows:
            for key, cell in row.items():
                for m in NUMBER.finditer(RANGE.sub(" ", cell or "")):
                    add(token(m), _key_units(key or ""))
    for mean, spread in means:
        add(spread, {u for v, u in list(pairs) if v == mean} - {None})
    return pairs


DOCS = [ROOT / "README.md", ROOT / "results" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.fixture(scope="module")
def traced():
    return traced_numbers()


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_number_in_the_docs_prose_is_traced_to_a_committed_results_file(doc, traced):
    """A document's prose may quote a number only as a results file holds it, with its unit (issue 28:
    numbers typed by hand drifted from their files; issue 35: "13.0 GiB" passed inside a version string)."""
    name = str(doc.relative_to(ROOT))
    missing = [
        f"{n} {u or ''}".strip()
        for n, u in prose_numbers(doc)
        if (n, u) not in traced and (name, n) not in ALLOWED.keys() | UNTRACED_YET
    ]
    assert not missing, f"numbers in {name} that no results file holds (with their unit): {missing}"


def test_a_number_is_matched_as_a_token_with_its_unit(tmp_path, traced):
    doc = tmp_path / "doc.md"
    doc.write_text("Mamba's 13.0 GiB; 2 min; ~40 s; 160 ms to 35 ms; 4.29x, 3x and 2.5 x.\n")
    assert prose_numbers(doc) == [
        *[("13.0", "GiB"), ("2", "min"), ("40", "s"), ("160", "ms"), ("35", "ms"), ("4.29", "x"), ("2.5", "x")]
    ]  # a ratio is a token with its unit, written against it or not (4.29x was no token before 2026-12-07)
    assert ("13.0", "GiB") not in traced  # "13.0" occurs in version strings (2.13.0) only: not a token
    doc.write_text(
        "minus -0.0183 (\u22120.5); 98.9 ± 0.7%; 4.6e-3 and 9.2E\u22126; "
        "0.5-0.9, 8.0\u20138.9 and 2.4/2.5 s; dev 1.5 GiB\n"
    )
    assert prose_numbers(doc) == [  # each was no token before 2026-12-08
        *[("-0.0183", None), ("-0.5", None), ("98.9", None), ("0.7", "%"), ("4.6e-3", None), ("9.2e-6", None)],
        *[("0.5", None), ("0.9", None), ("8.0", None), ("8.9", None), ("2.4", None), ("2.5", "s"), ("1.5", "GiB")],
    ]
    assert {("-0.0183", None), ("9.2e-6", None), ("0.7", "%")} <= traced  # Table 6's gain, a scan error, a spread


WORDS = st.sampled_from(["", "the ", "dev ", "tissue ", "total ", "Mamba's ", "(", "about ", "- "])
UNIT_SPELLINGS = st.sampled_from(
    [("", None), (" GiB", "GiB"), ("\u00a0GiB", "GiB"), ("\u2009ms", "ms"), (" seconds", "s"), ("×", "x"), (" %", "%")]
)


@settings(max_examples=60, deadline=None)
@given(
    whole=st.integers(0, 999),
    decimals=st.text("0123456789", min_size=1, max_size=4),
    sign=st.sampled_from(["", "-", "\u2212"]),
    exponent=st.sampled_from(["", "e-3", "e5", "E\u22127"]),
    shape=st.sampled_from(["{}", "0.1-{}", "{}-0.1", "{}/0.1", "1.5 ± {}", "({})", "{}."]),
    word=WORDS,
    unit=UNIT_SPELLINGS,
)
def test_every_decimal_in_prose_is_a_token_the_test_checks(
    tmp_path_factory, traced, whole, decimals, sign, exponent, shape, word, unit
):
    """However a decimal is written -- signed, with an exponent, at either end of a range, after ±, after any
    word, before a unit spelled any way or a non-breaking space -- it is a token, so an untraced one fails."""
    spelling, unit_name = unit
    number = f"{sign if shape == '{}' else ''}{whole}.{decimals}{exponent}"
    written = word + shape.format(number + (spelling if shape in ("{}", "({})", "{}.") else ""))
    doc = tmp_path_factory.mktemp("doc") / "doc.md"
    doc.write_text(f"We measured {written} here.\n")
    exp = "e" + str(int(exponent[1:].replace("\u2212", "-"))) if exponent else ""
    signed = sign.replace("\u2212", "-") if shape == "{}" else ""
    want = (f"{signed}{whole}.{decimals}{exp}", unit_name if shape in ("{}", "({})", "{}.") else None)
    assert want in prose_numbers(doc), (written, prose_numbers(doc))


LINK = re.compile(r"\]\(([^)#\s]+)")
PARAGRAPH = re.compile(r"\n\s*\n|\n(?=\s{0,3}(?:[-*+]|\d+\.)\s)")  # paragraphs, and each list item alone


def cited(doc: Path, paragraph: str) -> list[Path]:
    """The results files a paragraph links to (a folder: every file in it), each with its siblings of
    another format (table2_cpu.md with table2_cpu.json), and the paper's numbers."""
    files = []
    for link in LINK.findall(paragraph):
        target = (doc.parent / link).resolve()
        if not target.is_relative_to(ROOT / "results") or not target.exists():
            continue
        found = [q for q in target.rglob("*")] if target.is_dir() else [target]
        files += [q for f in found for q in f.parent.glob(f.stem + ".*") if q.suffix in RESULT_SUFFIXES]
    return sorted(set(files)) + [ROOT / "minrnn" / "reports" / "paper_reference.json"] if files else []


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_a_paragraph_that_cites_results_quotes_numbers_its_citations_hold(doc):
    """Context (issue 35): where a paragraph links to its results files, each number it quotes must be in
    those files with its unit, not merely somewhere in results/ (4.40x changed to 4.41x in the speed
    paragraph passed while any file held a 4.41x)."""
    name = str(doc.relative_to(ROOT))
    missing = []
    for paragraph in PARAGRAPH.split(prose(doc.read_text())):
        files = cited(doc, paragraph)
        if not files:
            continue
        held = traced_numbers(files)
        missing += [
            f"{n} {u or ''}".strip() + f" (cites {', '.join(str(f.relative_to(ROOT)) for f in files[:-1])})"
            for n, u in prose_numbers(doc, paragraph, counts=True)
            if (n, u) not in held and (name, n) not in ALLOWED.keys() | UNTRACED_YET
        ]
    assert not missing, f"numbers in {name} that the files their paragraph cites do not hold: {missing}"


def test_a_number_held_elsewhere_but_not_by_the_cited_file_is_found(tmp_path, monkeypatch):
    paragraph = "The card ([speed](../results/bench/speed_card.md)) measured {}x.\n"
    card = traced_numbers([ROOT / "results/bench/speed_card.md"])
    other = sorted(n for n, u in traced_numbers() if u == "x" and (n, "x") not in card)[0]  # held elsewhere
    doc = ROOT / "docs" / "results.md"
    files = cited(doc, paragraph)
    assert ROOT / "results/bench/speed_card.json" in files
    assert (other, "x") not in traced_numbers(files) and (other, "x") in traced_numbers()
    assert prose_numbers(doc, paragraph.format(other)) == [(other, "x")]


def test_the_untraced_list_only_holds_numbers_still_in_the_prose(traced):
    in_prose = {("docs/results.md", n) for n, u in prose_numbers(ROOT / "docs/results.md") if (n, u) not in traced}
    assert UNTRACED_YET <= in_prose, UNTRACED_YET - in_prose


def test_a_run_count_the_cited_file_does_not_hold_is_found():
    """'2 seeds' in a paragraph that cites Figure 5's file (4, 3 and 6 runs per bias) is stale: found; a
    count is checked only where a paragraph cites its files, and settings' integers stay unchecked."""
    doc = ROOT / "docs" / "results.md"
    paragraph = "Figure 5 ([f](../results/figures/figure5_cpu.md)), {} seeds per bias, 2,500 steps.\n"
    held = traced_numbers(cited(doc, paragraph))
    assert ("4", "n") in held and ("2", "n") not in held
    assert prose_numbers(doc, paragraph.format(2), counts=True) == [("2", "n")]
    assert prose_numbers(doc, paragraph.format(2)) == []  # outside a citing paragraph: not checked
