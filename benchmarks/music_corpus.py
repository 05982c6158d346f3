"""Rebuild a real-music corpus of the learning study from a Debian package.

    python benchmarks/music_corpus.py ./music_corpus
    python benchmarks/music_corpus.py ./drascula_corpus --package drascula-music

Downloads one of PACKAGES with ``apt-get download`` (no root needed), or
takes an already downloaded ``--deb``, unpacks its Ogg Vorbis tracks and cuts
them into 16 kHz mono clips of 8 s: the first clip of each track starts
SKIP_SECONDS in (past fade-ins), later ones every CLIP_STRIDE_SECONDS, taken
round-robin over the tracks in name order until ``--clips`` are written, so
the corpus mixes every track and is the same on every machine. The audio is
not committed to the repository: this script is how to get it.

With train.py's default ``--num_val_batches 1`` and ``--batch_size 16``, the
64 default clips split into 48 for training and 16 for validation.
"""

import argparse
import glob
import hashlib
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The packages the study uses: name -> what the music is.
PACKAGES = {
    "wesnoth-1.16-music": "the orchestral soundtrack of The Battle for Wesnoth (GPL-2+, "
                          "about 150 MB)",
    "drascula-music": "the soundtrack of the adventure game Drascula: The Vampire Strikes "
                      "Back (a BSD-like licence, about 36 MB)",
}
DEFAULT_PACKAGE = "wesnoth-1.16-music"
SAMPLE_RATE = 16000
CLIP_SECONDS = 8.0
SKIP_SECONDS = 10.0
CLIP_STRIDE_SECONDS = 30.0
DEFAULT_CLIPS = 64


def download(package: str, directory: str) -> str:
    """``apt-get download package`` into ``directory``: the .deb's path."""
    try:
        subprocess.run(["apt-get", "download", package], cwd=directory, check=True,
                       capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise SystemExit(f"error: could not download {package} with apt-get ({detail.strip()}); "
                         f"download the .deb from packages.debian.org and pass --deb") from None
    (deb,) = glob.glob(os.path.join(directory, f"{package}_*.deb"))
    return deb


def tracks(deb: str, directory: str) -> list:
    """Unpack ``deb`` into ``directory``: its distinct .ogg files, in name order.

    A package may hold one track under several paths (drascula-music has a copy
    per language): each content is taken once.
    """
    subprocess.run(["dpkg-deb", "-x", deb, directory], check=True)
    distinct = {}
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.ogg"), recursive=True)):
        with open(path, "rb") as f:
            distinct.setdefault(hashlib.sha256(f.read()).hexdigest(), path)
    return sorted(distinct.values(), key=os.path.basename)


def clip_starts(duration: float):
    """Start times (s) of the clips cut from a track of ``duration`` seconds."""
    start = SKIP_SECONDS
    while start + CLIP_SECONDS <= duration:
        yield start
        start += CLIP_STRIDE_SECONDS


def write_clips(paths: list, output_dir: str, count: int) -> int:
    import librosa
    import numpy as np
    import soundfile

    from samplernn.audio import write_wav

    os.makedirs(output_dir, exist_ok=True)
    pending = []   # per track: its remaining clips, (audio at SAMPLE_RATE, start)
    for path in paths:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        mono = librosa.resample(audio.mean(axis=1), orig_sr=rate, target_sr=SAMPLE_RATE)
        starts = list(clip_starts(len(mono) / SAMPLE_RATE))
        pending.append([(os.path.basename(path), mono, s) for s in starts])
    written = 0
    while written < count and any(pending):
        for clips in pending:
            if clips and written < count:
                name, mono, start = clips.pop(0)
                first = int(start * SAMPLE_RATE)
                clip = mono[first:first + int(CLIP_SECONDS * SAMPLE_RATE)]
                clip = clip / max(1e-6, float(np.max(np.abs(clip))))   # peak-normalized
                stem = os.path.splitext(name)[0]
                write_wav(os.path.join(output_dir, f"{written:03d}_{stem}_{int(start)}s.wav"),
                          clip, SAMPLE_RATE)
                written += 1
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir")
    parser.add_argument("--clips", type=int, default=DEFAULT_CLIPS)
    parser.add_argument("--package", choices=sorted(PACKAGES), default=DEFAULT_PACKAGE,
                        help="the Debian package whose music to cut: " + "; ".join(
                            f"{name}: {what}" for name, what in sorted(PACKAGES.items())))
    parser.add_argument("--deb", help="an already downloaded .deb of --package")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samplernn-music-") as work:
        deb = args.deb or download(args.package, work)
        paths = tracks(deb, os.path.join(work, "unpacked"))
        if not paths:
            raise SystemExit(f"error: no .ogg files in {deb}")
        written = write_clips(paths, args.output_dir, args.clips)
    print(f"Wrote {written} clips of {CLIP_SECONDS:g} s at {SAMPLE_RATE} Hz from "
          f"{len(paths)} tracks of {os.path.basename(deb)} to {args.output_dir}")


if __name__ == "__main__":
    main()
