"""`tests/SECURITY.md` names tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "SECURITY.md"
ROW = re.compile(r"^\|\s*([A-Z]\d+)\s*\|.*\|\s*`?([^|`]+)`?\s*\|\s*$")


def _tests_in(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}::{item.name}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
    return names


def _references() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for line in TABLE.read_text().splitlines():
        match = ROW.match(line)
        if not match:
            continue
        row, cell = match.groups()
        current = ""
        for part in (p.strip().strip("`") for p in cell.split(",")):
            if part.startswith("tests/"):
                current = part.rsplit("::", 1)[0]
                found.append((row, part))
            elif part.startswith("::"):
                found.append((row, current + part))
    return found


class TestSecurityTable:
    def test_every_row_names_existing_tests(self) -> None:
        """Every test named in the table exists, so the table cannot drift from the suite."""
        references = _references()
        assert len(references) >= 40
        missing = []
        for row, reference in references:
            file, _, name = reference.partition("::")
            path = ROOT / file
            if not path.exists() or name not in _tests_in(path):
                missing.append(f"{row}: {reference}")
        assert not missing, missing

    def test_row_ids_are_unique(self) -> None:
        """Each row has its own id."""
        ids = [m.group(1) for m in map(ROW.match, TABLE.read_text().splitlines()) if m]
        assert len(ids) == len(set(ids))
