"""What the benchmarks share: running each case in its own process, peak memory and
the name of the device a case ran on."""

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


def device_name() -> str:
    """The device the case ran on: a GPU's name, else the CPU model."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU {details.get('device_name', gpus[0].name)}"
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return f"CPU {names[0]} x{len(names)}" if names else "CPU"
    except OSError:
        return "CPU"
