"""Reorganising the code must not change what a verifier reads off a report.

Each case of tests/golden_cases.py is analysed again and compared with the
results recorded in tests/golden/reports.json (counts, event times, time map,
claim verdicts, span, warnings)."""
import json

import pytest

from golden_cases import CASES, GOLDEN, run_case


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_matches_golden(name):
    expected = json.loads(GOLDEN.read_text())[name]
    got = run_case(name)
    for key in sorted(expected):
        assert got[key] == expected[key], f"{name}: {key} changed"
    assert got.keys() == expected.keys()
