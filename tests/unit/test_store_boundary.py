"""The CLI and the audit read the event store through the application's event log only.

Reaching into the library's recorder or event store (`app.recorder`, `app.events`)
from there would bypass what the event log does for them: decoding compressed or
encrypted state, reading the chain only where there is one.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted([*ROOT.glob("engine/cli/*.py"), *ROOT.glob("audit/*.py")])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_reaches_into_the_library_store(path):
    tree = ast.parse(path.read_text(), str(path))
    reached = [
        f"line {node.lineno}: app.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("recorder", "events", "mapper")
        and _is_app(node.value)
    ]
    assert not reached, reached


def _is_app(node: ast.expr) -> bool:
    """`app` or `<anything>.app`."""
    if isinstance(node, ast.Name):
        return node.id == "app"
    return isinstance(node, ast.Attribute) and node.attr == "app"
