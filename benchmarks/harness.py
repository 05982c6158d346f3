"""What the benchmarks share: running each case in its own process and peak memory."""

import json
import os
import resource
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_isolated(script: str, case: str, *extra) -> dict:
    """Run ``script --one CASE EXTRA...`` in a fresh Python; return its last JSON line."""
    output = subprocess.run([sys.executable, script, "--one", case, *map(str, extra)],
                            check=True, capture_output=True, text=True, cwd=REPO_ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])
