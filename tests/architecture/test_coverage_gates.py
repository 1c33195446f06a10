"""The published contract and the policy language are fully tested: 100 % lines and branches.

The gate runs their own test directories (and the sealing tests, which exercise the
envelope's wire model) in a subprocess with branch coverage,
so it holds whatever subset of the suite is being run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_policies_and_the_protocol_have_full_line_and_branch_coverage() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/policies",
            "tests/protocol",
            "tests/feeds/test_envelope.py",
            "--cov=policies",
            "--cov=exchange.protocol",
            "--cov-branch",
            "--cov-report=term-missing:skip-covered",
            "--cov-fail-under=100",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
