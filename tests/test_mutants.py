"""scripts/mutate.py's catalogue stays applicable: every mutant's text occurs exactly once in
its file (a reformatting of the tree once turned six of them into no-ops, reported only as
"invalid" when someone ran the catalogue)."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "mutate.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="needs the source tree")
def test_every_mutant_applies_exactly_once():
    spec = importlib.util.spec_from_file_location("mutate", SCRIPT)
    mutate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutate)
    assert len(mutate.M) >= 30
    assert len({m["id"] for m in mutate.M}) == len(mutate.M)
    bad = {m["id"]: (REPO / m["file"]).read_text().count(m["old"]) for m in mutate.M}
    assert {k: n for k, n in bad.items() if n != 1} == {}
    assert {m["isa"] for m in mutate.M} >= {"avx2", "avx512", "neon"}
