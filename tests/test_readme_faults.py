"""The README's table "What each bad input gets" stays true: every row names a test that exists and asserts the
words the row quotes (the test itself checks the behaviour; this keeps the table tied to it)."""
import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
README = TESTS.parent / "README.md"


def fault_rows():
    text = README.read_text()
    section = text[text.index("## What each bad input gets"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`test_" in line]
    return [(re.findall(r'"([^"]+)"', row.split(" | ")[1]), re.search(r"`(test_\w+\.py)::(test_\w+)`", row).groups())
            for row in rows]


def test_every_fault_row_names_a_test_that_asserts_its_words():
    rows = fault_rows()
    assert len(rows) >= 20
    for quoted, (module, name) in rows:
        source = (TESTS / module).read_text()
        (function,) = [f for f in ast.walk(ast.parse(source)) if isinstance(f, ast.FunctionDef) and f.name == name]
        first = min([function.lineno, *(d.lineno for d in function.decorator_list)])  # parametrized cases too
        body = "\n".join(source.splitlines()[first - 1:function.end_lineno])
        assert quoted, f"the row for {module}::{name} quotes no message"
        for words in quoted:
            plain = re.sub(r"\\(.)", r"\1", body)  # words inside regular expressions count too
            assert words in plain, f"{module}::{name} does not assert {words!r}"
