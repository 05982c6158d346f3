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
    with ``train/`` and ``held/`` folders of links for the studies (the last 16
    clips are what every study scores).
train
    ``train.py`` on ``WORK/train`` with README's from-scratch recipe over
    ``--minutes`` (resumed if run again, a raised ``--minutes`` stretching the schedule
    over the new total; ``--init_from`` continues a shipped model with a fresh
    optimizer), pinned to ``--cpus`` if given.
score
    ``evaluate.py``'s held-out bits per sample for each test folder and held-out
    corpus, into ``WORK/<name>-scores.csv``.
curve
    The same for the checkpoints copied during training, every CURVE_EVERY_MINUTES
    of training, on CURVE_FOLDERS: ``WORK/<name>-curve.csv`` (does the held-out
    source still improve?).
ship
    The latest checkpoint's weights only (no optimizer slots) and its config into
    ``models/<name>/``, with the scores beside them as ``scores.csv`` and the model
    card ``README.md`` written from the same figures and the curve.
"""

import argparse
import csv
import datetime
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import music_corpus  # noqa: E402
import recipe_ab  # noqa: E402

BASE_SOURCES = ("asc-music", "colobot-common-sounds", "warzone2100-music",
                "wesnoth-1.16-music")
HELD_OUT_SOURCES = ("drascula-music", "fretsonfire-guitar")
MINUTES_PER_SOURCE = 60
TEST_TRACK_EVERY = 5          # every fifth track of a source is a test track
TEST_CLIPS = 16
STUDY_CLIPS = 64              # a held-out corpus: music_corpus.py's default, of which
                              # recipe_ab.TRAIN_CLIPS train a study and the rest are scored
SNAPSHOT_POLL_SECONDS = 30
CURVE_EVERY_MINUTES = 30
CURVE_FOLDERS = ("drascula-music", "wesnoth-1.16-music")   # one held-out, one in the base
DEFAULT_NAME = "base128"
DEFAULT_CONFIG = "demo.config.json"
DEFAULT_MINUTES = 180
# generate.py's default for a shipped base (its temperature.json): runs fine-tuned from
# the 245-minute base128 had the most files with notes at 0.93-0.95 (fell silent at 0.75,
# a pure tone at 0.9, noise at 1.0: RESULTS.md, "base128 continued to 245 minutes").
SHIP_TEMPERATURE = 0.95
# README's from-scratch recipe, for a long budget.
RECIPE = ["--batch_size", "8", "--sample_rate", "16000", "--learning_rate", "0.004",
          "--learning_rate_warmup_steps", "200", "--learning_rate_schedule", "linear",
          "--generate", "False", "--num_epochs", "1000", "--max_checkpoints", "3",
          "--checkpoint_every_minutes", "10", "--verbose", "False"]


# The weights' licence: every base source is GPL-2+ ("or later") or GPL-3+ (the Aftermath
# album of warzone2100-music: CC BY-SA 3.0 or GPL-2+, its GPL option taken), so the
# one licence that every source allows for a work derived from it is the GPL-3 or later.
WEIGHTS_LICENCE = "GPL-3.0-or-later"
PACKAGES_FILE = "packages.csv"   # package, version, sha256 of each .deb, its role

STAGES = ("corpus", "train", "score", "curve", "packages", "ship")


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
        _, held = recipe_ab.split(os.path.join(work, name))   # train/ and held/: a study's
        shutil.copytree(held, os.path.join(work, "test", name), dirs_exist_ok=True)
        print(f"{name} (held out): {count} clips from {len(paths)} tracks", flush=True)
        shutil.rmtree(unpacked)


def deb_facts(deb: str) -> dict:
    """Package, version and SHA-256 of a .deb file."""
    import hashlib

    def field(name):
        return subprocess.run(["dpkg-deb", "-f", deb, name], check=True, capture_output=True,
                              text=True).stdout.strip()

    digest = hashlib.sha256()
    with open(deb, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"package": field("Package"), "version": field("Version"),
            "sha256": digest.hexdigest()}


def record_packages(work: str, output: str) -> str:
    """Write ``output`` (PACKAGES_FILE's columns): every Debian package a base's sources
    and held-out corpora come from, with the exact version and the .deb's SHA-256 (the
    .debs in ``<work>/debs``, downloaded if missing), so the data can be rebuilt exactly."""
    debs_dir = os.path.join(work, "debs")
    os.makedirs(debs_dir, exist_ok=True)
    rows = []
    for role, names in (("trained on", BASE_SOURCES), ("held out", HELD_OUT_SOURCES)):
        for name in names:
            source = music_corpus.SOURCES[name]
            for package in source.packages:
                facts = deb_facts(music_corpus.download(package, debs_dir))
                rows.append({"source": name, "role": role, **facts, "licence": source.licence})
    write_csv(output, rows)
    return output


def licence_lines(packages: list, when: str = "") -> list:
    """The card's licence section, from PACKAGES_FILE's rows (``when``: a sentence on
    when they were recorded, if not by the build itself)."""
    lines = ["## Licence", "",
             f"The weights: **{WEIGHTS_LICENCE}**, the one licence every source it was "
             f"trained on allows for a derived work (each is GPL-2+ \"or later\" or GPL-3+; "
             f"the Aftermath album's GPL-2+ option). The code of this project: the MIT "
             f"licence (`LICENSE`).", "",
             f"The exact Debian packages (Debian 12, `{PACKAGES_FILE}`), which "
             f"`benchmarks/base_model.py` downloads with `apt-get download`{when}:", "",
             "| source | role | package | version | .deb SHA-256 | licence |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {row['source']} | {row['role']} | {row['package']} | {row['version']} | "
              f"`{row['sha256']}` | {row['licence']} |" for row in packages]
    return lines + [""]


def relicense_card(name: str, work: str) -> None:
    """Record the packages in ``models/<name>/`` and write its card's licence section
    (replacing the one there, if any) from them."""
    folder = os.path.join(REPO_ROOT, "models", name)
    packages = read_csv(record_packages(work, os.path.join(folder, PACKAGES_FILE)))
    when = (f" (recorded on {datetime.date.today()} from the Debian 12 suite the build "
            f"downloaded from, after the build, which did not record them)")
    card_path = os.path.join(folder, "README.md")
    with open(card_path, encoding="utf-8") as f:
        card = f.read()
    before, _, after = card.partition("## Licence")
    rest = after[after.find("\n## "):] if after and "\n## " in after else ""
    card = before.rstrip("\n") + "\n\n" + "\n".join(licence_lines(packages, when)) + rest.lstrip("\n")
    with open(card_path + ".tmp", "w", encoding="utf-8") as f:
        f.write(card)
    os.replace(card_path + ".tmp", card_path)
    print(f"{card_path}: licence section written from {PACKAGES_FILE}", flush=True)


def train(args) -> None:
    """Run train.py to its budget, copying each checkpoint it saves (train.py keeps only
    the last few) to ``WORK/snapshots/<name>/`` for the ``curve`` stage."""
    command = [sys.executable, os.path.join(REPO_ROOT, "train.py"), "--id", args.name,
               "--data_dir", os.path.join(args.work, "train"), "--logdir_root",
               os.path.join(args.work, "logdir"), "--max_minutes", f"{args.minutes:g}",
               *RECIPE]
    command += (["--init_from", args.init_from] if args.init_from
                else ["--config_file", args.config_file])
    if glob.glob(os.path.join(args.work, "logdir", args.name, "*", "*.ckpt-*.index")):
        # A raised budget on a run that exists: it resumes (Adam's moments kept) and its
        # linear decay is stretched over the new total from where training stands.
        command += ["--allow_schedule_change", "True"]
    if args.cpus:
        command = ["taskset", "-c", args.cpus, *command]
    print(" ".join(command), flush=True)
    process = subprocess.Popen(command, cwd=REPO_ROOT)
    copied = set()
    while process.poll() is None:
        time.sleep(SNAPSHOT_POLL_SECONDS)
        copy_new_checkpoints(args, copied)
    copy_new_checkpoints(args, copied)
    if process.returncode != 0:
        raise SystemExit(f"train.py failed with status {process.returncode}")


def copy_new_checkpoints(args, copied: set) -> None:
    """Copy each checkpoint of the run not yet in ``copied`` (by its index file's path
    and modification time) to ``WORK/snapshots/<name>/<mtime>/``."""
    pattern = os.path.join(args.work, "logdir", args.name, "*", "*.ckpt-*.index")
    for index in glob.glob(pattern):
        key = (index, os.path.getmtime(index))
        if key in copied:
            continue
        copied.add(key)
        target = os.path.join(args.work, "snapshots", args.name, f"{key[1]:.0f}")
        os.makedirs(target, exist_ok=True)
        for path in glob.glob(index[:-len(".index")] + ".*") + \
                [os.path.join(os.path.dirname(index), "model.config.json")]:
            shutil.copy(path, target)


def curve(args) -> str:
    """Held-out bits of the snapshots (every CURVE_EVERY_MINUTES of training, and the last)
    on CURVE_FOLDERS: ``WORK/<name>-curve.csv``."""
    from samplernn import checkpoints, runs

    snapshots = []
    for folder in glob.glob(os.path.join(args.work, "snapshots", args.name, "*")):
        prefix = runs.latest_checkpoint(folder)
        if prefix:
            snapshots.append((checkpoints.training_seconds(prefix) / 60, prefix))
    snapshots.sort()
    chosen, next_mark = [], CURVE_EVERY_MINUTES
    for index, (minutes, prefix) in enumerate(snapshots):
        if minutes >= next_mark or index == len(snapshots) - 1:
            chosen.append((minutes, prefix))
            next_mark = (minutes // CURVE_EVERY_MINUTES + 1) * CURVE_EVERY_MINUTES
    path = os.path.join(args.work, f"{args.name}-curve.csv")
    scored = {}   # points of an earlier curve (a run continued later) are not scored again
    if os.path.exists(path):
        with open(path, newline="") as f:
            scored = {row["training_minutes"]: row for row in csv.DictReader(f)}
    rows = []
    for minutes, prefix in chosen:
        row = scored.get(f"{minutes:.0f}") or {"training_minutes": f"{minutes:.0f}"}
        for folder in CURVE_FOLDERS:
            if folder not in row:
                row[folder] = (f"{bits_per_sample(prefix, os.path.join(args.work, 'test', folder)):.4f}")
        print(row, flush=True)
        rows.append(row)
    write_csv(path, rows)
    return path


def bits_per_sample(prefix: str, folder: str) -> float:
    """``evaluate.py``'s held-out bits per sample of checkpoint ``prefix`` on ``folder``."""
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "evaluate.py"), "--checkpoint_path", prefix,
         "--data_dir", folder, "--json"], check=True, capture_output=True, text=True,
        cwd=REPO_ROOT)
    return json.loads(result.stdout[result.stdout.index("{"):])["bits_per_sample"]


def write_csv(path: str, rows: list) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def latest_checkpoint(args) -> str:
    from samplernn import runs

    return runs.resolve_checkpoint(os.path.join(args.work, "logdir", args.name))


def score(args) -> str:
    """Held-out bits per sample of the latest checkpoint for each test folder: the CSV."""
    prefix = latest_checkpoint(args)
    rows = []
    for folder in sorted(glob.glob(os.path.join(args.work, "test", "*"))):
        bits = bits_per_sample(prefix, folder)
        source = os.path.basename(folder)
        rows.append({"source": source, "in_base": "yes" if source in BASE_SOURCES else "no",
                     "bits_per_sample": f"{bits:.4f}"})
        print(f"{source}: {bits:.4f} bits per sample", flush=True)
    path = os.path.join(args.work, f"{args.name}-scores.csv")
    write_csv(path, rows)
    return path


def ship(args) -> None:
    """Write the latest checkpoint's weights (only), config, scores and card to
    models/<name>/ (a staging folder renamed into place)."""
    from samplernn import checkpoints, runs
    from samplernn.run_record import CONFIG_FILE, beside, save_sampling

    prefix = latest_checkpoint(args)
    config = runs.config_for_checkpoint(prefix)
    model = checkpoints.load_model(prefix, config)
    target = os.path.join(REPO_ROOT, "models", args.name)
    staging = target + ".new"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    steps = checkpoints.training_steps(prefix)
    checkpoints.make_checkpoint(model).write(os.path.join(staging, f"model.ckpt-{steps}"))
    shutil.copy(beside(prefix, CONFIG_FILE), staging)
    save_sampling(staging, [args.temperature])
    scores = read_csv(os.path.join(args.work, f"{args.name}-scores.csv"))
    if scores:
        shutil.copy(os.path.join(args.work, f"{args.name}-scores.csv"),
                    os.path.join(staging, "scores.csv"))
    curve_path = args.curve or os.path.join(args.work, f"{args.name}-curve.csv")
    curve_rows = read_csv(curve_path)
    if curve_rows:
        shutil.copy(curve_path, os.path.join(staging, "curve.csv"))
    packages_path = os.path.join(args.work, f"{args.name}-{PACKAGES_FILE}")
    packages = read_csv(packages_path)
    if packages:
        shutil.copy(packages_path, os.path.join(staging, PACKAGES_FILE))
    with open(os.path.join(staging, "README.md"), "w", encoding="utf-8") as f:
        f.write(model_card(args, config, steps, checkpoints.training_seconds(prefix), scores,
                           curve_rows, packages))
    shutil.rmtree(target, ignore_errors=True)
    os.rename(staging, target)
    sizes = sum(os.path.getsize(p) for p in glob.glob(os.path.join(target, "*")))
    print(f"Shipped {prefix} ({steps} steps) to {target}: {sizes / 1e6:.1f} MB", flush=True)


def read_csv(path: str) -> list:
    if not path or not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def clip_counts(work: str) -> dict:
    """Training clips per base source, from the clips' names (``NNNN_<source>_...``)."""
    counts = {}
    for path in glob.glob(os.path.join(work, "train", "*.wav")):
        for name in BASE_SOURCES:
            if f"_{name}_" in os.path.basename(path):
                counts[name] = counts.get(name, 0) + 1
    return counts


def model_card(args, config, steps: int, seconds: float, scores: list, curve: list,
               packages: list) -> str:
    """The model card (README.md) of a shipped model, from the build's own figures."""
    from budget_study import cpu_model

    clip_minutes = music_corpus.CLIP_SECONDS / 60
    counts = clip_counts(args.work)
    total_minutes = sum(counts.values()) * clip_minutes
    lines = [f"# {args.name}: a SampleRNN base model trained on free game soundtracks", "",
             f"Weights only (no optimizer state), {config.dim}-wide tiers, "
             f"{config.sample_rate} Hz mono. Hear it, or start a run from it:", "",
             "```shell",
             f"python generate.py --checkpoint_path {args.name} --output_path "
             f"./generated/{args.name}.wav --dur 10",
             f"python train.py --id my_music --data_dir ./chunks --init_from {args.name} "
             f"--sample_rate {config.sample_rate} --max_minutes 20", "```", "",
             "(README.md gives the fine-tuning recipe measured best.) `generate.py` samples "
             f"it at temperature {args.temperature:g} unless told otherwise "
             "(`temperature.json`), and so does a run started from it without "
             "`--temperature` (temperatures measured: benchmarks/RESULTS.md).", "",
             "## Sources", "",
             f"{total_minutes / 60:.1f} hours of recorded music (8-second clips, peak-"
             f"normalized, 16 kHz mono) from the Debian packages below; the audio is not in "
             f"this repository. Whether a model's weights derive from its training audio is "
             f"unsettled; every source allows redistribution with changes, and each allows "
             f"the GPL-3+ (GPL-2+ \"or later\", GPL-3+, the Aftermath album's GPL-2+ "
             f"option).", "",
             "| source | Debian package(s) | licence | training minutes | what |",
             "|---|---|---|---:|---|"]
    for name in BASE_SOURCES:
        source = music_corpus.SOURCES[name]
        lines.append(f"| {name} | {', '.join(source.packages)} | {source.licence} | "
                     f"{counts.get(name, 0) * clip_minutes:.1f} | {source.what} |")
    lines += ["", "Never trained on, to measure what the model carries to unseen music:", ""]
    for name in HELD_OUT_SOURCES:
        source = music_corpus.SOURCES[name]
        lines.append(f"- {name} ({', '.join(source.packages)}; {source.licence}): "
                     f"{source.what}.")
    start = (f"Continued from `{args.init_from}` (a fresh optimizer)" if args.init_from
             else "From scratch")
    lines += ["", "## Training", "",
              f"{start}, `train.py` with `{' '.join(RECIPE[:10])}` and `--max_minutes "
              f"{args.minutes:g}` on {args.cpus and f'CPU {args.cpus} (taskset) of ' or ''}"
              f"a 2-core {cpu_model()}, float32, finished {datetime.date.today()}: "
              f"{steps:,} steps of 8 x 256 samples in {seconds / 3600:.2f} hours of "
              f"training.{' ' + args.note if args.note else ''}", "",
              "Config (`model.config.json`):", "", "```json",
              json.dumps(config.to_dict()), "```", "",
              "## Held-out bits per sample", "",
              f"`evaluate.py` on clips never trained on: up to {TEST_CLIPS} clips of every fifth "
              f"track of each base source (its test tracks), and the last 16 of the "
              f"{STUDY_CLIPS}-clip corpora of the held-out sources (the clips every study "
              f"scores). Lower is better; 8 bits is a uniform guess over 256 levels.", "",
              "| clips | in the base's sources | bits per sample |", "|---|---|---:|"]
    lines += [f"| {row['source']} | {row['in_base']} | {row['bits_per_sample']} |"
              for row in scores]
    if curve:
        lines += ["", "Held-out bits at earlier checkpoints of the same run (`curve.csv`):",
                  "", "| training minutes | " + " | ".join(list(curve[0])[1:]) + " |",
                  "|---:|" + "---:|" * (len(curve[0]) - 1)]
        lines += ["| " + " | ".join(row.values()) + " |" for row in curve]
    lines += ["", *licence_lines(packages), "## Rebuild", "", "```shell",
              f"python benchmarks/base_model.py /tmp/base --name {args.name} --config_file "
              f"{os.path.relpath(args.config_file, REPO_ROOT)} --minutes {args.minutes:g}",
              "```", "",
              "It downloads the packages with `apt-get download`, cuts the clips, trains, "
              "scores and writes this folder (weights, config, `temperature.json`, "
              "`scores.csv`, this card).", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", help="working folder: corpus, runs, scores")
    parser.add_argument("--stages", nargs="*", default=list(STAGES), choices=STAGES)
    parser.add_argument("--name", default=DEFAULT_NAME, help="the model's name in models/")
    parser.add_argument("--config_file", default=os.path.join(REPO_ROOT, DEFAULT_CONFIG))
    parser.add_argument("--init_from", default=None,
                        help="continue this model (a shipped name or checkpoint) instead")
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                        help="training budget (train.py --max_minutes)")
    parser.add_argument("--cpus", default=None, help="pin training to these CPUs (taskset)")
    parser.add_argument("--note", default="", help="ship: a sentence for the card's training "
                                                   "section (how the machine was shared)")
    parser.add_argument("--temperature", type=float, default=SHIP_TEMPERATURE,
                        help="ship: generate.py's default temperature for the model")
    parser.add_argument("--relicense", action="store_true",
                        help="record the packages in models/<name>/ and rewrite its card's "
                             "licence section from them (with --stages and nothing else)")
    parser.add_argument("--curve", default=None,
                        help="ship: the curve CSV for the card (default: the curve stage's)")
    args = parser.parse_args()
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    if "corpus" in args.stages:
        build_corpus(args.work)
    if "train" in args.stages:
        train(args)
    if "score" in args.stages:
        score(args)
    if "curve" in args.stages:
        args.curve = args.curve or curve(args)
    if "packages" in args.stages:
        record_packages(args.work, os.path.join(args.work, f"{args.name}-{PACKAGES_FILE}"))
    if args.relicense:
        relicense_card(args.name, args.work)
    if "ship" in args.stages:
        ship(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
