"""Validation bits per sample against wall-clock time: training recipes compared
at equal time.

    python benchmarks/learning.py --data_dir ./demo_corpus --minutes 5 \\
        --common "--config_file demo.config.json" \\
        --variant base= --variant lr3e-3="--learning_rate 3e-3" \\
        --output benchmarks/learning/demo

Each ``--variant NAME=FLAGS`` is a set of train.py flags added after the
``--common`` ones. Every variant runs ``python train.py`` itself, in a fresh
process with its own log directory, with ``--max_minutes`` (a budget of training
time: it stops at the first step past it, mid-epoch, so the last point of a curve is
the last epoch completed within the budget; before issue #31 it stopped at the end of
the first epoch past the budget) and ``--generate False`` (audio
generation is not learning). Its curve is train.py's own ``metrics.csv``: one
point per epoch, ``elapsed_seconds`` (wall time since training started: steps,
validation and checkpoint saves) against ``val_bits_per_sample``.

Writes ``OUTPUT.csv`` (a row per variant and epoch) and ``OUTPUT.png`` (one
curve per variant, same axes), and prints per variant the last validation
figure within the budget and the best one. A study grows in steps: the
variants already in ``OUTPUT.csv`` are kept (and plotted) and not run again,
unless ``--rerun`` is given or their flags (the CSV's ``flags`` column: the
common ones, then the variant's) changed.
"""

import argparse
import csv
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.harness import REPO_ROOT  # noqa: E402

MANY_EPOCHS = 100000   # the time budget, not the epoch count, ends each run
TITLE_WIDTH = 110      # characters per line of the plot title
CSV_COLUMNS = ("variant", "epoch", "elapsed_seconds", "val_bits_per_sample", "bits_per_sample",
               "flags")


def parse_variant(text: str):
    name, separator, flags = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=FLAGS, got {text!r}")
    return name, flags


def run_variant(name: str, flags: str, common: str, data_dir: str, minutes: float,
                workdir: str) -> list:
    """Train one variant; its metrics.csv rows as dicts of floats."""
    logdir = os.path.join(workdir, name)
    argv = [sys.executable, os.path.join(REPO_ROOT, "train.py"), "--id", name,
            "--data_dir", data_dir, "--logdir_root", logdir, "--output_dir", logdir,
            "--generate", "False", "--num_epochs", str(MANY_EPOCHS),
            "--max_minutes", str(minutes), "--verbose", "False",
            *shlex.split(common), *shlex.split(flags)]
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)   # paths: the caller's
    if result.returncode != 0:
        raise SystemExit(f"variant {name} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    (run_dir,) = [os.path.join(root, "metrics.csv") for root, _, files in os.walk(logdir)
                  if "metrics.csv" in files]
    with open(run_dir) as f:
        rows = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
    print(f"{name}: {len(rows)} epoch(s) in {time.perf_counter() - started:.0f} s "
          f"(process), flags: {flags or '(none)'}", flush=True)
    return rows


def read_csv(path: str):
    """The curves and flags already recorded in ``path`` (empty if there is none)."""
    curves, flags = {}, {}
    if os.path.exists(path):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                flags[row["variant"]] = row["flags"]
                curves.setdefault(row["variant"], []).append(
                    {k: float(row[k]) for k in CSV_COLUMNS[1:-1]})
    return curves, flags


def write_csv(path: str, curves: dict, flags: dict) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS)
        writer.writeheader()
        for name, rows in curves.items():
            for row in rows:
                writer.writerow({"variant": name, "epoch": int(row["epoch"]),
                                 "elapsed_seconds": f"{row['elapsed_seconds']:.1f}",
                                 "val_bits_per_sample": f"{row['val_bits_per_sample']:.4f}",
                                 "bits_per_sample": f"{row['bits_per_sample']:.4f}",
                                 "flags": flags[name]})


def plot(path: str, curves: dict, minutes: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    for name, rows in curves.items():
        axes.plot([r["elapsed_seconds"] / 60 for r in rows],
                  [r["val_bits_per_sample"] for r in rows], marker="o", markersize=3, label=name)
    axes.axvline(minutes, color="grey", linestyle=":", linewidth=1)
    axes.set_xlabel("wall-clock minutes (training, validation, checkpoints)")
    axes.set_ylabel("validation bits per sample")
    axes.set_title("\n".join(textwrap.fill(line, TITLE_WIDTH) for line in title.split("\n")),
                   fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def summary(curves: dict, minutes: float) -> list:
    """Per variant: the last validation figure within the budget, and the best."""
    lines = [f"{'variant':<24}{'epochs':>7}{'at budget':>11}{'best':>9}"]
    for name, rows in curves.items():
        within = [r for r in rows if r["elapsed_seconds"] <= 60 * minutes] or rows[:1]
        best = min(r["val_bits_per_sample"] for r in rows)
        lines.append(f"{name:<24}{len(rows):>7}{within[-1]['val_bits_per_sample']:>11.3f}"
                     f"{best:>9.3f}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock budget per variant")
    parser.add_argument("--common", default="", help="train.py flags every variant gets")
    parser.add_argument("--variant", type=parse_variant, action="append", required=True,
                        help="NAME=FLAGS (repeat); FLAGS may be empty")
    parser.add_argument("--output", required=True, help="path prefix of the .csv and .png")
    parser.add_argument("--rerun", action="store_true",
                        help="run every variant, even those already in OUTPUT.csv")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    curves, flags = read_csv(args.output + ".csv")
    with tempfile.TemporaryDirectory(prefix="samplernn-learning-") as workdir:
        for name, variant_flags in args.variant:
            all_flags = f"{args.common} {variant_flags}".strip()   # as the CSV records them
            if not args.rerun and flags.get(name) == all_flags and name in curves:
                print(f"{name}: kept from {args.output}.csv", flush=True)
                continue
            flags[name] = all_flags
            curves[name] = run_variant(name, variant_flags, args.common, args.data_dir,
                                       args.minutes, workdir)
            write_csv(args.output + ".csv", curves, flags)    # partial results survive
    plot(args.output + ".png", curves, args.minutes,
         f"{os.path.basename(os.path.normpath(args.data_dir))}, {args.minutes:g} min per "
         f"variant\ncommon flags: {args.common or '(none)'}")
    print("\n".join(summary(curves, args.minutes)))
    print(f"Wrote {args.output}.csv and {args.output}.png")


if __name__ == "__main__":
    main()
