"""Build the shipped base models: cut the corpus, train, score, ship the weights.

    python benchmarks/base_model.py /tmp/base                 # all stages, base128, 180 min
    python benchmarks/base_model.py /tmp/base --stages corpus
    python benchmarks/base_model.py /tmp/base --stages train score ship --name base256 \\
        --config_file benchmarks/learning/configs/music256.json --minutes 110 --cpus 1

Stages (``--stages``, in this order):

corpus
    Downloads the Debian packages of BASE_SOURCES (``apt-get download``, no root)
    and of the held-out corpora, and cuts 16 kHz mono clips of 8 s (see
    music_corpus.py). Per base source, the tracks at positions 4, 9, 14, ... in name
    order (the last one, for a source of under five) are its test tracks: TEST_CLIPS
    clips of them go to ``WORK/test/<source>``; the other tracks give up to
    MINUTES_PER_SOURCE minutes of consecutive clips to ``WORK/train`` (numbered per
    source, so that the sources interleave in name order). HELD_OUT_SOURCES, which
    the base never hears, get the studies' 64-clip corpora in ``WORK/<source>``
    (their last 16 clips are what every study scores).
train
    ``train.py`` on ``WORK/train`` with README's from-scratch recipe over
    ``--minutes`` (resumed if run again; ``--init_from`` continues a shipped model
    with a fresh optimizer), pinned to ``--cpus`` if given.
score
    ``evaluate.py``'s held-out bits per sample for each test folder and held-out
    corpus, into ``WORK/<name>-scores.csv``.
ship
    The latest checkpoint's weights only (no optimizer slots) and its config into
    ``models/<name>/``, with the scores beside them as ``scores.csv``. The model
    card (``models/<name>/README.md``) is written by hand from these figures.
"""

import argparse
import csv
import glob
import os
import shutil
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import music_corpus  # noqa: E402

BASE_SOURCES = ("asc-music", "colobot-common-sounds", "warzone2100-music",
                "wesnoth-1.16-music")
HELD_OUT_SOURCES = ("drascula-music", "fretsonfire-guitar")
MINUTES_PER_SOURCE = 60
TEST_TRACK_EVERY = 5          # every fifth track of a source is a test track
TEST_CLIPS = 16
STUDY_CLIPS = 64              # a held-out corpus: music_corpus.py's default
STUDY_TRAIN_CLIPS = 48        # ... of which the last 16 are scored
DEFAULT_NAME = "base128"
DEFAULT_CONFIG = "demo.config.json"
DEFAULT_MINUTES = 180
# README's from-scratch recipe, for a long budget.
RECIPE = ["--batch_size", "8", "--sample_rate", "16000", "--learning_rate", "0.004",
          "--learning_rate_warmup_steps", "200", "--learning_rate_schedule", "linear",
          "--generate", "False", "--num_epochs", "1000", "--max_checkpoints", "3",
          "--checkpoint_every_minutes", "10", "--verbose", "False"]


def split_tracks(paths: list) -> tuple:
    """``(train, test)`` tracks of one source (see the module docs)."""
    test = [p for i, p in enumerate(paths) if i % TEST_TRACK_EVERY == TEST_TRACK_EVERY - 1]
    if not test:
        test = paths[-1:]
    return [p for p in paths if p not in test], test


def source_tracks(name: str, work: str) -> list:
    source = music_corpus.SOURCES[name]
    debs_dir = os.path.join(work, "debs")
    os.makedirs(debs_dir, exist_ok=True)
    debs = [music_corpus.download(package, debs_dir) for package in source.packages]
    unpacked = tempfile.mkdtemp(prefix=f"{name}-", dir=work)
    return music_corpus.tracks(debs, unpacked, source.only), unpacked


def build_corpus(work: str) -> None:
    clip_minutes = music_corpus.CLIP_SECONDS / 60
    for name in BASE_SOURCES:
        paths, unpacked = source_tracks(name, work)
        train, test = split_tracks(paths)
        count = music_corpus.write_clips(train, os.path.join(work, "train"),
                                         int(MINUTES_PER_SOURCE / clip_minutes),
                                         stride=music_corpus.CLIP_SECONDS, label=name)
        tested = music_corpus.write_clips(test, os.path.join(work, "test", name), TEST_CLIPS)
        print(f"{name}: {count} training clips ({count * clip_minutes:.1f} min) from "
              f"{len(train)} tracks, {tested} test clips from {len(test)}", flush=True)
        shutil.rmtree(unpacked)
    for name in HELD_OUT_SOURCES:
        paths, unpacked = source_tracks(name, work)
        count = music_corpus.write_clips(paths, os.path.join(work, name), STUDY_CLIPS,
                                         music_corpus.SOURCES[name].stride)
        held = os.path.join(work, "test", name)
        os.makedirs(held, exist_ok=True)
        for clip in sorted(glob.glob(os.path.join(work, name, "*.wav")))[STUDY_TRAIN_CLIPS:]:
            shutil.copy(clip, held)
        print(f"{name} (held out): {count} clips from {len(paths)} tracks", flush=True)
        shutil.rmtree(unpacked)


def train(args) -> None:
    command = [sys.executable, os.path.join(REPO_ROOT, "train.py"), "--id", args.name,
               "--data_dir", os.path.join(args.work, "train"), "--logdir_root",
               os.path.join(args.work, "logdir"), "--max_minutes", f"{args.minutes:g}",
               *RECIPE]
    command += (["--init_from", args.init_from] if args.init_from
                else ["--config_file", args.config_file])
    if args.cpus:
        command = ["taskset", "-c", args.cpus, *command]
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO_ROOT)


def latest_checkpoint(args) -> str:
    from samplernn import runs

    return runs.resolve_checkpoint(os.path.join(args.work, "logdir", args.name))


def score(args) -> str:
    """Held-out bits per sample of the latest checkpoint for each test folder: the CSV."""
    import json

    prefix = latest_checkpoint(args)
    rows = []
    for folder in sorted(glob.glob(os.path.join(args.work, "test", "*"))):
        result = subprocess.run(
            [sys.executable, os.path.join(REPO_ROOT, "evaluate.py"), "--checkpoint_path",
             prefix, "--data_dir", folder, "--json"], check=True, capture_output=True,
            text=True, cwd=REPO_ROOT)
        bits = json.loads(result.stdout[result.stdout.index("{"):])["bits_per_sample"]
        source = os.path.basename(folder)
        rows.append({"source": source, "in_base": source in BASE_SOURCES,
                     "bits_per_sample": f"{bits:.4f}"})
        print(f"{source}: {bits:.4f} bits per sample", flush=True)
    path = os.path.join(args.work, f"{args.name}-scores.csv")
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def ship(args) -> None:
    """Write the latest checkpoint's weights (only) and config to models/<name>/."""
    from samplernn import checkpoints, runs
    from samplernn.fileio import atomic_write_text

    prefix = latest_checkpoint(args)
    config = runs.config_for_checkpoint(prefix)
    model = checkpoints.load_model(prefix, config)
    target = os.path.join(REPO_ROOT, "models", args.name)
    staging = target + ".new"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    steps = checkpoints.training_steps(prefix)
    checkpoints.make_checkpoint(model).write(os.path.join(staging, f"model.ckpt-{steps}"))
    shutil.copy(runs.config_path_for(prefix), staging)
    scores = os.path.join(args.work, f"{args.name}-scores.csv")
    if os.path.exists(scores):
        shutil.copy(scores, os.path.join(staging, "scores.csv"))
    card = os.path.join(target, "README.md")
    if os.path.exists(card):
        shutil.copy(card, staging)
    hours = checkpoints.training_seconds(prefix) / 3600
    atomic_write_text(os.path.join(staging, "trained.txt"),
                      f"from {prefix}\nsteps {steps}\ntraining hours {hours:.2f}\n")
    shutil.rmtree(target, ignore_errors=True)
    os.rename(staging, target)
    sizes = sum(os.path.getsize(p) for p in glob.glob(os.path.join(target, "*")))
    print(f"Shipped {prefix} ({steps} steps, {hours:.2f} h) to {target}: "
          f"{sizes / 1e6:.1f} MB", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", help="working folder: corpus, runs, scores")
    parser.add_argument("--stages", nargs="+", default=["corpus", "train", "score", "ship"],
                        choices=["corpus", "train", "score", "ship"])
    parser.add_argument("--name", default=DEFAULT_NAME, help="the model's name in models/")
    parser.add_argument("--config_file", default=os.path.join(REPO_ROOT, DEFAULT_CONFIG))
    parser.add_argument("--init_from", default=None,
                        help="continue this model (a shipped name or checkpoint) instead")
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                        help="training budget (train.py --max_minutes)")
    parser.add_argument("--cpus", default=None, help="pin training to these CPUs (taskset)")
    args = parser.parse_args()
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    if "corpus" in args.stages:
        build_corpus(args.work)
    if "train" in args.stages:
        train(args)
    if "score" in args.stages:
        score(args)
    if "ship" in args.stages:
        ship(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
