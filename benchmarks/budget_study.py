"""Held-out bits per sample after a training budget: corpora x models x budgets.

    python benchmarks/budget_study.py --corpus wesnoth=/tmp/study/music64 \\
        --model dim128=demo.config.json --minutes 5 10 20 \\
        --output benchmarks/learning/budget_all.csv
    # the same on one core of this machine:
    python benchmarks/budget_study.py ... --cpus 0 --output benchmarks/learning/budget_1core.csv
    # one picture of every CSV given:
    python benchmarks/budget_study.py --plot benchmarks/learning/budget.png \\
        --output benchmarks/learning/budget_all.csv benchmarks/learning/budget_1core.csv

Each ``--corpus NAME=DIR`` names a directory holding ``train/`` (the training
files) and ``held/`` (files never trained on). Each ``--model NAME=CONFIG`` trains
from scratch; ``--model NAME=init:SOURCE`` fine-tunes SOURCE (a shipped model's
name or a checkpoint: ``train.py --init_from``), e.g. with a fine-tuning recipe:

    python benchmarks/budget_study.py --corpus drascula=/tmp/base/drascula-music \
        --model ft128=init:base128 --recipe "--batch_size 8 --learning_rate 0.001 ..." ...
 For every corpus, model config
and budget, one ``python train.py`` runs in a fresh process with README's
recommended recipe (RECIPE, changeable with ``--recipe``) and ``--max_minutes``
set to the budget, so its learning rate decays over that budget; then
``evaluate.py`` scores its last checkpoint on ``held/``. With ``--cpus`` both
run under ``taskset -c CPUS``; with ``--cgroup`` training runs in a cgroup whose
CPU quota makes a slower machine, e.g. 40% of one core:

    mkdir /sys/fs/cgroup/cpu/slow0 && echo 40000 > /sys/fs/cgroup/cpu/slow0/cpu.cfs_quota_us
    python benchmarks/budget_study.py ... --cpus 0 --cgroup /sys/fs/cgroup/cpu/slow0 ...

A row per run goes to the CSV (corpus, model, speed, budget, epochs completed,
training seconds, held-out bits per sample, training steps and seconds per step:
the machine's speed during the run);
rows already there are not run again, so a study can be stopped and resumed.
Each run's log directory (its checkpoint, for generating from it) is kept in
``OUTPUT_runs/CORPUS_MODEL_SPEED_BUDGETmin/``.
"""

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.harness import REPO_ROOT  # noqa: E402

# README's "train by the clock" command, less its --config_file and --max_minutes.
RECIPE = ("--batch_size 8 --sample_rate 16000 --learning_rate 0.004 "
          "--learning_rate_warmup_steps 200 --learning_rate_schedule linear")
STUDY_FLAGS = ("--generate False --num_val_batches 0 --max_checkpoints 1 "
               "--early_stopping_patience None --num_epochs 100000 --verbose False")
CSV_COLUMNS = ("corpus", "model", "speed", "minutes", "epochs", "train_seconds",
               "held_bits_per_sample", "config", "recipe", "cpu", "steps", "sec_per_step")


def named(text: str):
    name, separator, value = text.partition("=")
    if not separator or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cgroup_share(cgroup: str) -> float:
    """The CPU time a cgroup v1 ``cpu`` directory allows: cfs_quota_us / cfs_period_us."""
    def read(name):
        with open(os.path.join(cgroup, name)) as f:
            return int(f.read())
    quota = read("cpu.cfs_quota_us")
    if quota <= 0:
        raise SystemExit(f"error: {cgroup}/cpu.cfs_quota_us sets no limit")
    return quota / read("cpu.cfs_period_us")


def train_in(argv: list, cgroup: str):
    """Run ``argv`` to its end, inside ``cgroup`` if given (threads it starts inherit it)."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if cgroup:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(process.pid))
    output, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"train.py failed ({process.returncode}):\n{output[-4000:]}")


INIT_PREFIX = "init:"   # --model NAME=init:SOURCE fine-tunes SOURCE


def model_flags(model: str) -> list:
    """train.py's flags for a ``--model`` value: a config file, or ``init:SOURCE``."""
    if model.startswith(INIT_PREFIX):
        return ["--init_from", model[len(INIT_PREFIX):]]
    return ["--config_file", model]


def run_one(corpus_dir: str, config: str, minutes: float, recipe: str, cpus: str,
            workdir: str, cgroup: str = None) -> dict:
    """Train under the budget, score on held/: the CSV row's measured fields.

    Only training runs in ``cgroup``; the held-out score is the same at any speed.
    """
    prefix = ["taskset", "-c", cpus] if cpus else []
    train_in([*prefix, sys.executable, os.path.join(REPO_ROOT, "train.py"), "--id", "study",
              "--data_dir", os.path.join(corpus_dir, "train"), *model_flags(config),
              "--logdir_root", workdir, "--output_dir", workdir, "--max_minutes", str(minutes),
              *recipe.split(), *STUDY_FLAGS.split()], cgroup)
    score = subprocess.run([*prefix, sys.executable, os.path.join(REPO_ROOT, "evaluate.py"),
                            "--checkpoint_path", os.path.join(workdir, "study"),
                            "--data_dir", os.path.join(corpus_dir, "held"), "--json"],
                           capture_output=True, text=True)
    if score.returncode != 0:
        raise SystemExit(f"evaluate.py failed:\n{score.stdout[-2000:]}{score.stderr[-2000:]}")
    result = json.loads(score.stdout[score.stdout.index("{"):])
    from samplernn import checkpoints

    seconds = checkpoints.training_seconds(result["checkpoint"])
    steps = checkpoints.training_steps(result["checkpoint"])
    # The machine's speed during the run: the same host has run the same step 1.5-1.8x
    # slower on one day than the day before (benchmarks/RESULTS.md), so a budget's
    # result is read together with the steps it bought.
    return {"epochs": checkpoints.completed_epochs(result["checkpoint"]),
            "train_seconds": round(seconds, 1), "steps": steps,
            "sec_per_step": round(seconds / steps, 5) if steps > 0 else "",
            "held_bits_per_sample": round(result["bits_per_sample"], 4)}


def read_rows(path: str) -> list:
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_row(path: str, row: dict) -> None:
    """Add ``row`` to the CSV at ``path``; a CSV written with fewer columns (an older
    version of this script) is first rewritten with all of them, its rows' new
    fields left empty."""
    rows = read_rows(path)
    if rows and list(rows[0]) != list(CSV_COLUMNS):
        temporary = path + ".tmp"
        with open(temporary, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, restval="")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(temporary, path)
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def plot(csv_paths: list, png: str) -> None:
    """One panel per corpus: held-out bits against budget, a line per model and speed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A line per corpus, model, speed and CSV: one CSV holds one version of the code,
    # so the same model and speed measured at two commits stay two lines.
    rows = [dict(row, source=os.path.splitext(os.path.basename(path))[0])
            for path in csv_paths for row in read_rows(path)]
    corpora = sorted({row["corpus"] for row in rows})
    figure, axes = plt.subplots(1, len(corpora), figsize=(6 * len(corpora), 5), squeeze=False)
    for axis, corpus in zip(axes[0], corpora):
        lines = sorted({(r["model"], r["speed"], r["source"]) for r in rows
                        if r["corpus"] == corpus})
        for line in lines:
            points = sorted((float(r["minutes"]), float(r["held_bits_per_sample"])) for r in rows
                            if (r["corpus"], r["model"], r["speed"], r["source"])
                            == (corpus, *line))
            axis.plot(*zip(*points), marker="o", label="{}, {} ({})".format(*line))
        axis.set(title=f"{corpus}: held-out clips", xlabel="training budget (--max_minutes)",
                 ylabel="bits per sample (lower is better)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(f"{cpu_model()}: README's recipe, linear decay over the budget")
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    print(f"Wrote {png}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=named, action="append", default=[],
                        help="NAME=DIR, DIR holding train/ and held/")
    parser.add_argument("--model", type=named, action="append", default=[],
                        help="NAME=CONFIG_FILE, or NAME=init:SOURCE to fine-tune SOURCE")
    parser.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 20])
    parser.add_argument("--recipe", default=RECIPE, help="train.py's flags besides the study's")
    parser.add_argument("--cpus", default=None, help="run under taskset -c CPUS")
    parser.add_argument("--cgroup", default=None,
                        help="a cgroup v1 cpu directory whose cfs quota slows training down "
                             "(a slower machine), e.g. /sys/fs/cgroup/cpu/slow")
    parser.add_argument("--output", nargs="+", required=True,
                        help="the CSV to add rows to (with --plot: the CSVs to draw)")
    parser.add_argument("--plot", default=None, help="draw the CSVs into this PNG and stop")
    args = parser.parse_args()
    if args.plot:
        return plot(args.output, args.plot)
    (output,) = args.output
    runs_dir = os.path.splitext(output)[0] + "_runs"
    speed = f"cpus {args.cpus}" if args.cpus else f"all {os.cpu_count()} cpus"
    if args.cgroup:
        speed += f" at {cgroup_share(args.cgroup):.0%}"
    done = {(r["corpus"], r["model"], r["speed"], float(r["minutes"])) for r in read_rows(output)}
    for minutes in args.minutes:
        for corpus, corpus_dir in args.corpus:
            for model, config in args.model:
                if (corpus, model, speed, minutes) in done:
                    continue
                started = time.perf_counter()
                label = "".join(filter(str.isalnum, speed))
                workdir = os.path.join(runs_dir, f"{corpus}_{model}_{label}_{minutes:g}min")
                shutil.rmtree(workdir, ignore_errors=True)   # a run cut short earlier
                row = run_one(corpus_dir, config, minutes, args.recipe, args.cpus, workdir,
                              args.cgroup)
                row.update(corpus=corpus, model=model, speed=speed, minutes=minutes,
                           config=os.path.basename(config), recipe=args.recipe, cpu=cpu_model())
                append_row(output, row)
                print(f"{corpus} {model} {speed} {minutes:g} min: {row['held_bits_per_sample']} "
                      f"bits ({row['epochs']} epochs, {row['steps']} steps, "
                      f"{row['train_seconds']} s training, "
                      f"{time.perf_counter() - started:.0f} s in all)", flush=True)


if __name__ == "__main__":
    main()
