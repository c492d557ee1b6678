"""Numbers in the docs generated from results/ (minrnn/harness/doc_blocks.py): each committed block
equals what its generator makes from the committed results, and a block is rewritten in place."""

from pathlib import Path

import pytest

from minrnn.harness import doc_blocks

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", list(doc_blocks.BLOCKS))
def test_each_generated_block_in_the_docs_equals_its_results(name):
    doc, make = doc_blocks.BLOCKS[name]
    assert doc_blocks.read_block(ROOT / doc, name) == make(ROOT / "results").strip("\n")


def test_a_block_is_rewritten_between_its_markers_and_nothing_else_changes(tmp_path):
    start, end = doc_blocks.markers("x")
    path = tmp_path / "doc.md"
    path.write_text(f"before\n{start}\nold 1.0\n{end}\nafter\n")
    assert doc_blocks.replace_block(path, "x", "new 2.0") is True
    assert path.read_text() == f"before\n{start}\nnew 2.0\n{end}\nafter\n"
    assert doc_blocks.replace_block(path, "x", "new 2.0") is False


def test_a_document_without_the_markers_is_one_message(tmp_path):
    path = tmp_path / "doc.md"
    path.write_text("no markers\n")
    with pytest.raises(ValueError, match="has no block 'x'"):
        doc_blocks.read_block(path, "x")


def test_the_layer_benchmark_block_shows_the_reset_path():
    assert "packed sequences (a reset every 256 steps)" in doc_blocks.layer_benchmark(ROOT / "results")
