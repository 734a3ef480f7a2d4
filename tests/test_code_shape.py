"""The shape the code keeps so that a newcomer can walk into it: small modules, small classes.

docs/architecture.md states both limits; a module or class that outgrows them is split by
concern, not trimmed to fit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import portal

PACKAGE = Path(portal.__file__).parent
MODULE_LINES = 400
CLASS_LINES = 150


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_modules_to_measure() -> None:
    assert len(sources()) > 50


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in sources()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
    }
    assert long == {}


def test_no_class_is_over_150_lines() -> None:
    long = {
        f"{path.relative_to(PACKAGE)}:{node.name}": lines
        for path in sources()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and (lines := (node.end_lineno or node.lineno) - node.lineno + 1) > CLASS_LINES
    }
    assert long == {}
