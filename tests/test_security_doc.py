"""Every fault id (F1..F33) cited in the code, tests and docs is a case in docs/security.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED = re.compile(r"\bF([1-9][0-9]?)\b")
CASE_ROW = re.compile(r"^\| F([0-9]+) \| \S", re.MULTILINE)


def test_every_cited_fault_id_has_a_case_in_the_security_doc() -> None:
    cases = {int(n) for n in CASE_ROW.findall((ROOT / "docs" / "security.md").read_text())}
    assert cases == set(range(1, 34))
    files = [
        *ROOT.glob("zoo/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("plugins/zoo-keras-hub/**/*.py"),
        *ROOT.glob("docs/*.md"),
        ROOT / "README.md",
    ]
    cited = {
        (path.relative_to(ROOT).as_posix(), int(n))
        for path in files
        for n in CITED.findall(path.read_text(encoding="utf-8"))
    }
    assert len(cited) > 30  # the pattern finds the citations
    assert {(where, n) for where, n in cited if n not in cases} == set()
