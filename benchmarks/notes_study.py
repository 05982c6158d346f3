"""Minutes to notes: audio generated from trained runs, measured against its corpus.

    python benchmarks/notes_study.py --corpus /tmp/base/drascula-music/held \\
        --run scratch_5min=/tmp/base/ab5_scratch_runs/drascula_scratch128_cpus0_5min/study \\
        --run ft128_5min=/tmp/base/ab5_ft001_runs/drascula_ft128_lr0.001_cpus0_5min/study \\
        --temperature 0.75 1.0 --output benchmarks/learning/notes_drascula.csv

For every ``--run LABEL=CHECKPOINT`` and temperature, ``generate.py`` writes
``--num_seqs`` files of ``--seconds`` each (``run`` as a temperature: no
``--temperature`` flag, i.e. the temperature the run recorded), and
:mod:`samplernn.notes` measures each file against the corpus's medians. One CSV row per
file (its measures, whether it passes every criterion, what it misses); rows already in
the CSV are not generated again. The summary printed at the end has, per run and
temperature, the files that pass and the median of each measure.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.budget_study import named  # noqa: E402
from benchmarks.harness import REPO_ROOT  # noqa: E402
from samplernn import notes  # noqa: E402

RUN_TEMPERATURE = "run"      # generate.py's default: the temperature the run recorded
COLUMNS = ("run", "temperature", "file", *notes.MEASURES, "has_notes", "missing")


def generate_and_measure(checkpoint: str, temperature: str, args, corpus: dict) -> list:
    """``[row]`` for the files of one generate.py call."""
    import soundfile

    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, os.path.join(REPO_ROOT, "generate.py"), "--checkpoint_path",
                   checkpoint, "--output_path", os.path.join(folder, "gen.wav"),
                   "--num_seqs", str(args.num_seqs), "--dur", f"{args.seconds:g}"]
        if temperature != RUN_TEMPERATURE:
            command += ["--temperature", temperature]
        subprocess.run(command, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        rows = []
        for index, name in enumerate(sorted(os.listdir(folder)), start=1):
            audio, rate = soundfile.read(os.path.join(folder, name), dtype="float32")
            measures = notes.measure(audio, rate)
            checks = notes.has_notes(measures, corpus)
            rows.append({"file": f"{index}:{name}", **{k: f"{v:.4f}" for k, v in measures.items()},
                         "has_notes": checks["all"],
                         "missing": "; ".join(k for k, ok in checks.items()
                                              if not ok and k != "all")})
        return rows


def summary(rows: list) -> None:
    groups = {}
    for row in rows:
        groups.setdefault((row["run"], row["temperature"]), []).append(row)
    print(f"{'run':>24} {'temp':>5} {'notes':>6} {'silence':>8} {'flatness':>9} "
          f"{'onsets/s':>8} {'decay dB':>8} {'pitch':>6}")
    for (run, temperature), group in groups.items():
        def median(name):
            return float(np.nanmedian([float(r[name]) for r in group]))
        passing = sum(str(r["has_notes"]) == "True" for r in group)
        print(f"{run:>24} {temperature:>5} {passing:>3}/{len(group):<2} "
              f"{median('silence_share'):8.2f} {median('median_flatness'):9.4f} "
              f"{median('onsets_per_second'):8.2f} {median('decay_db'):+8.1f} "
              f"{median('pitch_classes'):6.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="the corpus's held-out audio folder")
    parser.add_argument("--run", type=named, action="append", required=True,
                        help="LABEL=CHECKPOINT (a run directory, checkpoint or shipped name)")
    parser.add_argument("--temperature", nargs="+", default=[RUN_TEMPERATURE],
                        help=f"temperatures to generate at; {RUN_TEMPERATURE}: the run's own")
    parser.add_argument("--num_seqs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--output", required=True, help="CSV, one row per file")
    args = parser.parse_args()

    rows = []
    if os.path.exists(args.output):
        with open(args.output, newline="") as f:
            rows = list(csv.DictReader(f))
    done = {(r["run"], r["temperature"]) for r in rows}
    corpus = notes.folder_medians(args.corpus)
    print("corpus medians: " + ", ".join(f"{k} {v:.4f}" for k, v in corpus.items()), flush=True)
    for label, checkpoint in args.run:
        for temperature in args.temperature:
            if (label, temperature) in done:
                continue
            rows += [{"run": label, "temperature": temperature, **row}
                     for row in generate_and_measure(checkpoint, temperature, args, corpus)]
            with open(args.output + ".tmp", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(args.output + ".tmp", args.output)
            print(f"{label} at temperature {temperature}: done", flush=True)
    summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
