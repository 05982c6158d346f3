"""Real-time factor of streaming generation: ``generate.py --output_path -`` end to end.

    python benchmarks/streaming.py                 # small config, 20 s of audio
    python benchmarks/streaming.py --config default --seconds 5

Builds an (untrained: speed does not depend on the weights) model of the given
configuration at 16 kHz, saves it as a checkpoint in a temporary directory, and
runs ``generate.py --output_path - --dur SECONDS`` with standard output going to
/dev/null, as a pipe into a player would. Prints the real-time factor that
generate.py's own progress line reports (measured after compilation), the
wall time of the whole command (start-up and compilation included) and the
command's peak memory. ``--seconds 10 40`` runs it for each duration: equal
peaks show that memory stays flat however long generation runs.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.generation import CONFIGS, SAMPLE_RATE, case_config  # noqa: E402
from benchmarks.harness import REPO_ROOT  # noqa: E402

PROGRESS_RTF = re.compile(r"([\d.]+)x real time")


def save_checkpoint(config_name: str, directory: str) -> str:
    """An untrained model of ``config_name`` saved as a run directory; its path."""
    from samplernn.cli import quiet_tensorflow

    quiet_tensorflow()
    from samplernn import checkpoints, run_record, runs
    from samplernn.config import ModelConfig
    from samplernn.model import build_model

    config = ModelConfig.from_dict({**case_config(config_name), "sample_rate": SAMPLE_RATE})
    run_dir = runs.new_run_dir(directory, config_name)
    run_record.save_run_config(run_dir, config)
    checkpoints.make_checkpoint(build_model(config)).write(os.path.join(run_dir, "model.ckpt-1"))
    return run_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="small", choices=sorted(CONFIGS))
    parser.add_argument("--seconds", type=float, nargs="+", default=[20.0])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        run_dir = save_checkpoint(args.config, directory)
        for seconds in args.seconds:
            stream(run_dir, args.config, seconds)


def stream(run_dir: str, config_name: str, seconds: float) -> None:
    """Run generate.py to a pipe (in a helper process, whose children's peak
    memory is then this one command's) and print the figures."""
    helper = ("import resource, subprocess, sys; "
              "result = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
              "stderr=subprocess.PIPE, text=True); "
              "print(result.stderr); "
              "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
              "sys.exit(result.returncode)")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", helper, sys.executable, os.path.join(REPO_ROOT, "generate.py"),
         "--checkpoint_path", run_dir, "--output_path", "-", "--dur", str(seconds)],
        capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    factors = PROGRESS_RTF.findall(result.stdout)
    peak_mb = int(re.search(r"PEAK_KB (\d+)", result.stdout).group(1)) / 1024
    print(f"config {config_name}, {seconds:g} s at {SAMPLE_RATE} Hz to a pipe: "
          f"{float(factors[-1]):.2f}x real time while generating (whole command {wall:.1f} s, "
          f"{seconds / wall:.2f}x including start-up), peak memory {peak_mb:,.0f} MB",
          flush=True)


if __name__ == "__main__":
    main()
