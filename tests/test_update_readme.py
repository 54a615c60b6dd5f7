"""benchmarks/update_readme.py: generated tables land between their markers, empty or not."""

from __future__ import annotations

from benchmarks.update_readme import splice


def test_splice_fills_empty_and_replaces_filled_sections() -> None:
    text = "a\n<!-- x:start -->\n<!-- x:end -->\nb\n<!-- y:start -->\nold\nlines\n<!-- y:end -->\n"
    text = splice(text, "x", "new x")
    text = splice(text, "y", "| t |\n| 1 |")
    assert text == (
        "a\n<!-- x:start -->\nnew x\n<!-- x:end -->\nb\n"
        "<!-- y:start -->\n| t |\n| 1 |\n<!-- y:end -->\n"
    )
    assert splice(text, "x", "new x") == text  # idempotent
    assert splice(text, "z", "nothing") == text  # no markers: unchanged


def test_reports_lose_their_title_and_sections_are_demoted() -> None:
    from benchmarks.update_readme import _table_and_notes

    body = _table_and_notes("# Title\n\ntext\n\n## Section\n\n| a |\n")
    assert body == "text\n\n#### Section\n\n| a |"
