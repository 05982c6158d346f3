"""Two training recipes side by side, one core each, then both scored on held-out clips.

    python benchmarks/recipe_ab.py /tmp/study/wesnoth --old_tree /tmp/study/old \\
        --minutes 15 --out benchmarks/learning/ab15_wesnoth

``corpus`` is a directory of clips from ``music_corpus.py``: the first TRAIN_CLIPS (by
name) train, the rest are held out. The old recipe (43acc87's documented best for music:
x0.6 per epoch after epoch 1) runs from ``--old_tree`` (a worktree of that commit) on CPU
0, README's recommended command of this tree on CPU 1, at the same time. The old
release's ``--max_minutes`` stops only after the first epoch past the budget, so its
checkpoint is the last epoch that ended within the budget (from ``metrics.csv``); the new
one stops at the budget itself. Each run's console log, and a CSV of both scores
(``scores.csv``), are written to ``--out``, to be committed beside the figures.
"""

import argparse
import csv
import glob
import json
import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from samplernn import runs  # noqa: E402
TRAIN_CLIPS = 48
COMMON = ["--config_file", "demo.config.json", "--batch_size", "8", "--sample_rate", "16000",
          "--learning_rate", "0.004", "--learning_rate_warmup_steps", "200", "--generate",
          "False", "--num_val_batches", "0", "--max_checkpoints", "None",
          "--early_stopping_patience", "None", "--num_epochs", "1000", "--verbose", "False"]
RECIPES = {   # name -> (CPU, flags after COMMON)
    "old": (0, ["--reduce_learning_rate_after", "1", "--learning_rate_decay", "0.6"]),
    "new": (1, ["--learning_rate_schedule", "linear"]),
}


def split(corpus: str) -> tuple:
    """``corpus/train`` and ``corpus/held`` as folders of links to the clips."""
    clips = sorted(glob.glob(os.path.join(corpus, "*.wav")))
    parts = {"train": clips[:TRAIN_CLIPS], "held": clips[TRAIN_CLIPS:]}
    for part, files in parts.items():
        os.makedirs(os.path.join(corpus, part), exist_ok=True)
        for path in files:
            link = os.path.join(corpus, part, os.path.basename(path))
            if not os.path.exists(link):
                os.symlink(os.path.abspath(path), link)
    return os.path.join(corpus, "train"), os.path.join(corpus, "held")


def last_checkpoint_within(run_dir: str, seconds: float) -> tuple:
    """``(prefix, elapsed seconds)`` of the last epoch in ``metrics.csv`` within ``seconds``."""
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = [r for r in csv.DictReader(f) if float(r["elapsed_seconds"]) <= seconds]
    row = rows[-1]
    return os.path.join(run_dir, f"model.ckpt-{row['epoch']}"), float(row["elapsed_seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--old_tree", required=True, help="a worktree of the old commit")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--out", required=True, help="folder for the logs and scores.csv")
    args = parser.parse_args()
    train_dir, held_dir = split(args.corpus)
    os.makedirs(args.out, exist_ok=True)
    logdir = os.path.abspath(os.path.join(args.out, "logdir"))
    trees = {"old": os.path.abspath(args.old_tree), "new": REPO_ROOT}
    processes = {}
    for name, (cpu, flags) in RECIPES.items():
        command = ["taskset", "-c", str(cpu), sys.executable, "train.py", "--id", name,
                   "--data_dir", os.path.abspath(train_dir), "--logdir_root", logdir,
                   *COMMON, *flags, "--max_minutes", f"{args.minutes:g}"]
        log = open(os.path.join(args.out, f"{name}.log"), "w")
        log.write("$ " + " ".join(command) + f"   (in {trees[name]})\n")
        log.flush()
        processes[name] = subprocess.Popen(command, cwd=trees[name], stdout=log,
                                           stderr=subprocess.STDOUT)
    for process in processes.values():
        process.wait()
    rows = []
    for name in RECIPES:
        (run_dir,) = glob.glob(os.path.join(logdir, name, "*"))
        if name == "old":
            prefix, seconds = last_checkpoint_within(run_dir, 60 * args.minutes)
        else:
            prefix = runs.latest_checkpoint(run_dir)   # stopped at the budget
            seconds = 60 * args.minutes
        scored = subprocess.run([sys.executable, "evaluate.py", "--checkpoint_path", prefix,
                                 "--data_dir", os.path.abspath(held_dir), "--json"],
                                cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        bits = json.loads(scored.stdout)["bits_per_sample"]
        rows.append({"corpus": os.path.basename(os.path.normpath(args.corpus)),
                     "recipe": name, "checkpoint": os.path.relpath(prefix, args.out),
                     "training_seconds": f"{seconds:.0f}", "held_out_bits": f"{bits:.4f}"})
        print(rows[-1], flush=True)
    with open(os.path.join(args.out, "scores.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
