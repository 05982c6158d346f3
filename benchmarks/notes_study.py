"""Minutes to notes, and audio that keeps playing: generated audio measured against
its corpus.

    python benchmarks/notes_study.py --corpus /tmp/study/drascula/held \
        --run ft20=/tmp/study/base_d_runs/drascula_readme_cpus0_20min/study \
        --setting run= --setting minp05="--min_p 0.05" --seconds 30 \
        --output benchmarks/learning/alive_drascula.csv

For every ``--run LABEL=CHECKPOINT`` and ``--setting LABEL=FLAGS`` (generate.py flags;
an empty one is generate.py's defaults; each ``--temperature T`` adds the setting
``T="--temperature T"``, and ``run`` is the temperature the run recorded),
``generate.py`` writes ``--num_seqs`` files of ``--seconds`` each. Each file is judged
window by window (:mod:`samplernn.windows`: the share of alive 2-s windows and the first
collapse, against the corpus's own windows), and its first ``--notes_seconds`` are
measured with :mod:`samplernn.notes` against the corpus's medians (the same audio as a
shorter file with the same seed: the draws are keyed on the sample index). One CSV
row per file; rows already in the CSV are not generated again. The summary printed at
the end has, per run and setting, the median alive share, the files that pass every
notes criterion and the median of each measure; the corpus's own alive share (its
ceiling) is printed first.
"""

import argparse
import csv
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.budget_study import named  # noqa: E402
from benchmarks.harness import REPO_ROOT  # noqa: E402
from samplernn import notes, windows  # noqa: E402

SAMPLE_RATE = 16000   # the corpus is judged at the studies' rate

RUN_TEMPERATURE = "run"      # generate.py's default: the temperature the run recorded
COLUMNS = ("run", "setting", "flags", "file", "alive_share", "first_collapse_seconds",
           *(f"{v}_windows" for v in windows.VERDICTS[1:]), *notes.MEASURES, "has_notes",
           "missing")


def generate_and_measure(checkpoint: str, flags: str, args, corpus: dict,
                         bounds: windows.WindowBounds, keep_as: str = "") -> list:
    """``[row]`` for the files of one generate.py call with ``flags`` (copied to
    ``--keep`` as ``<keep_as>_<name>``)."""
    import soundfile

    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, os.path.join(REPO_ROOT, "generate.py"), "--checkpoint_path",
                   checkpoint, "--output_path", os.path.join(folder, "gen.wav"),
                   "--num_seqs", str(args.num_seqs), "--dur", f"{args.seconds:g}",
                   *shlex.split(flags)]
        subprocess.run(command, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        rows = []
        for index, name in enumerate(sorted(os.listdir(folder)), start=1):
            audio, rate = soundfile.read(os.path.join(folder, name), dtype="float32")
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                shutil.copy(os.path.join(folder, name),
                            os.path.join(args.keep, f"{keep_as}_{name}"))
            long_form = windows.judge(windows.window_measures(audio, rate), bounds)
            measures = notes.measure(audio[:int(args.notes_seconds * rate)], rate)
            checks = notes.has_notes(measures, corpus)
            collapse = long_form.first_collapse_seconds
            rows.append({"file": f"{index}:{name}", "alive_share": f"{long_form.alive_share:.3f}",
                         "first_collapse_seconds": "" if collapse is None else f"{collapse:g}",
                         **{f"{v}_windows": long_form.verdicts.count(v)
                            for v in windows.VERDICTS[1:]},
                         **{k: f"{v:.4f}" for k, v in measures.items()},
                         "has_notes": checks["all"],
                         "missing": "; ".join(k for k, ok in checks.items()
                                              if not ok and k != "all")})
        return rows


def summary(rows: list) -> None:
    groups = {}
    for row in rows:
        groups.setdefault((row["run"], row["setting"]), []).append(row)
    print(f"{'run':>24} {'setting':>12} {'alive':>6} {'collapse':>8} {'notes':>6} "
          f"{'silence':>8} {'flatness':>9} {'onsets/s':>8} {'decay dB':>8} {'pitch':>6}")
    for (run, label), group in groups.items():
        def median(name):
            return float(np.nanmedian([float(r[name]) for r in group]))
        passing = sum(str(r["has_notes"]) == "True" for r in group)
        collapses = [float(r["first_collapse_seconds"]) for r in group
                     if r["first_collapse_seconds"] != ""]
        first = f"{min(collapses):.0f} s" if collapses else "never"
        print(f"{run:>24} {label:>12} {median('alive_share'):6.2f} {first:>8} "
              f"{passing:>3}/{len(group):<2} "
              f"{median('silence_share'):8.2f} {median('median_flatness'):9.4f} "
              f"{median('onsets_per_second'):8.2f} {median('decay_db'):+8.1f} "
              f"{median('pitch_classes'):6.0f}")


def labelled_flags(text: str) -> tuple:
    """``LABEL=FLAGS`` (FLAGS may be empty) as ``(label, flags)``."""
    label, separator, flags = text.partition("=")
    if not separator or not label:
        raise argparse.ArgumentTypeError(f"expected LABEL=FLAGS, got {text!r}")
    return label, flags


def corpus_windows(folder: str) -> tuple:
    """``(bounds, ceiling)`` of the corpus's 2-s windows: :mod:`samplernn.windows`."""
    from samplernn.audio import load_audio
    from samplernn.data import find_audio_files

    measured = [windows.window_measures(load_audio(path, SAMPLE_RATE), SAMPLE_RATE)
                for path in find_audio_files(folder)]
    bounds = windows.window_bounds(measured)
    return bounds, windows.corpus_ceiling(measured, bounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="the corpus's held-out audio folder")
    parser.add_argument("--run", type=named, action="append", required=True,
                        help="LABEL=CHECKPOINT (a run directory, checkpoint or shipped name)")
    parser.add_argument("--temperature", nargs="+", default=[],
                        help=f"temperatures to generate at; {RUN_TEMPERATURE}: the run's own")
    parser.add_argument("--setting", type=labelled_flags, action="append", default=[],
                        help="LABEL=FLAGS: generate.py flags of one setting (empty: defaults)")
    parser.add_argument("--num_seqs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--notes_seconds", type=float, default=8.0,
                        help="the start of each file that samplernn.notes measures")
    parser.add_argument("--keep", help="a folder to copy the generated files into")
    parser.add_argument("--output", required=True, help="CSV, one row per file")
    args = parser.parse_args()

    settings = list(args.setting) + [
        (t, "" if t == RUN_TEMPERATURE else f"--temperature {t}") for t in args.temperature]
    if not settings:
        settings = [(RUN_TEMPERATURE, "")]
    rows = []
    if os.path.exists(args.output):
        with open(args.output, newline="") as f:
            rows = list(csv.DictReader(f))
    done = {(r["run"], r["setting"]) for r in rows}
    corpus = notes.folder_medians(args.corpus)
    bounds, ceiling = corpus_windows(args.corpus)
    print("corpus medians: " + ", ".join(f"{k} {v:.4f}" for k, v in corpus.items()), flush=True)
    print(f"corpus windows: {bounds}; alive share of its own windows (the ceiling) "
          f"{ceiling:.3f}", flush=True)
    for label, checkpoint in args.run:
        for setting, flags in settings:
            if (label, setting) in done:
                continue
            rows += [{"run": label, "setting": setting, "flags": flags, **row}
                     for row in generate_and_measure(checkpoint, flags, args, corpus, bounds,
                                                     f"{label}_{setting}")]
            with open(args.output + ".tmp", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(args.output + ".tmp", args.output)
            print(f"{label}, {setting}: done", flush=True)
    summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
