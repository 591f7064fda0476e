"""ui.html_table: the pages' light tables (Ask's top predictions, the Circuit page's three)."""
from __future__ import annotations

import re

import ui


def cells(html: str, tag: str) -> list[tuple[str, str]]:
    return re.findall(rf"<{tag} style='[^']*text-align:(\w+)'>(.*?)</{tag}>", html)


def test_header_rows_alignment_and_escaping():
    html = ui.html_table(["term", "k=1 <value>"], [["cos x cos y", "-0.405"], ["a & b", 3]])
    assert cells(html, "th") == [("left", "term"), ("right", "k=1 &lt;value&gt;")]  # first column left, the rest right
    assert cells(html, "td") == [("left", "cos x cos y"), ("right", "-0.405"), ("left", "a &amp; b"), ("right", "3")]
    assert html.count("<tr>") == 3  # the header and two rows
    html = ui.html_table(["a", "b", "c"], [["1", "✓", "x"]], align="rcl")
    assert [a for a, _ in cells(html, "td")] == ["right", "center", "left"]
