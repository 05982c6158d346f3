"""Rebuild a real-music corpus of the learning studies from Debian packages.

    python benchmarks/music_corpus.py ./music_corpus
    python benchmarks/music_corpus.py ./drascula_corpus --package drascula-music
    python benchmarks/music_corpus.py ./guitar_corpus --package fretsonfire-guitar

Downloads the packages of one of SOURCES with ``apt-get download`` (no root
needed), or takes already downloaded ``--deb`` files, unpacks their tracks (Ogg
Vorbis, Opus or MP3) and cuts them into 16 kHz mono clips of 8 s: the first clip
of each track starts SKIP_SECONDS in (past fade-ins), later ones every
CLIP_STRIDE_SECONDS, taken round-robin over the tracks in name order until
``--clips`` are written, so the corpus mixes every track and is the same on
every machine. The audio is not committed to the repository: this script is how
to get it. (benchmarks/base_model.py cuts the base model's corpus with the same
functions.)

With train.py's default ``--num_val_batches 1`` and ``--batch_size 16``, the
64 default clips split into 48 for training and 16 for validation.
"""

import argparse
import dataclasses
import glob
import hashlib
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


SAMPLE_RATE = 16000
CLIP_SECONDS = 8.0
SKIP_SECONDS = 10.0
CLIP_STRIDE_SECONDS = 30.0
DEFAULT_CLIPS = 64


@dataclasses.dataclass(frozen=True)
class Source:
    """Recorded music in Debian: the packages that hold it, what it is, its licence
    (from the packages' debian/copyright and the tracks' own licence files)."""
    packages: tuple
    what: str
    licence: str
    only: str = None   # take only the tracks with this file name (stems of a song)
    stride: float = CLIP_STRIDE_SECONDS   # seconds from one clip's start to the next's
    joined: str = None   # short recordings (spoken prompts): joined in name order into
    #                      one track of this name before cutting


SOURCES = {
    "wesnoth-1.16-music": Source(
        ("wesnoth-1.16-music",), "the orchestral soundtrack of The Battle for Wesnoth "
        "(about 150 MB)", "GPL-2+"),
    "drascula-music": Source(
        ("drascula-music",), "the soundtrack of the adventure game Drascula: The Vampire "
        "Strikes Back (about 36 MB)", "BSD-like (Drascula licence)"),
    "colobot-common-sounds": Source(
        ("colobot-common-sounds",), "the soundtrack of the programming game Colobot "
        "(electronic and orchestral, about 60 MB)", "GPL-3+"),
    "warzone2100-music": Source(
        ("warzone2100-music",), "the soundtracks of the strategy game Warzone 2100 (the "
        "original, legacy and Aftermath albums, Opus, about 85 MB)",
        "GPL-2+ (Aftermath album: CC BY-SA 3.0 or GPL-2+)"),
    "asc-music": Source(
        ("asc-music",), "the soundtrack of Advanced Strategic Command (three MP3 tracks, "
        "about 10 MB)", "GPL-2+"),
    "fretsonfire-guitar": Source(
        ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid"), "a solo instrument: "
        "the lead-guitar stems (guitar.ogg) of the Frets on Fire song packs by El Senator "
        "(muldjord) and Carlos Viola Iborra (sectoid), electric guitar alone",
        "CC BY-SA 3.0 (muldjord), Expat (sectoid)", only="guitar.ogg",
        stride=CLIP_SECONDS * 2),   # eight songs: 30 s apart would give under 64 clips
    "klettres-data": Source(
        ("klettres-data",), "recorded voices: the spoken letters and syllables of KLettres "
        "in 20 languages (1,836 recordings, 51 minutes at 44.1 kHz), joined in name order",
        "GPL-2+", joined="klettres", stride=CLIP_SECONDS * 2),
}
AUDIO_EXTENSIONS = (".ogg", ".opus", ".mp3", ".wav")
STEM_NAMES = ("guitar", "song", "rhythm", "drums")   # the parts of a Frets on Fire song
DEFAULT_PACKAGE = "wesnoth-1.16-music"


def download(package: str, directory: str) -> str:
    """``apt-get download package`` into ``directory`` (unless a .deb of it is there
    already): the .deb's path."""
    found = glob.glob(os.path.join(directory, f"{package}_*.deb"))
    if found:
        return found[0]
    try:
        subprocess.run(["apt-get", "download", package], cwd=directory, check=True,
                       capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise SystemExit(f"error: could not download {package} with apt-get ({detail.strip()}); "
                         f"download the .deb from packages.debian.org and pass --deb") from None
    (deb,) = glob.glob(os.path.join(directory, f"{package}_*.deb"))
    return deb


def tracks(debs: list, directory: str, only: str = None) -> list:
    """Unpack ``debs`` into ``directory``: their distinct audio files (named ``only``,
    if given), in name order.

    A package may hold one track under several paths (drascula-music has a copy
    per language): each content is taken once. Stems that share a file name
    (``guitar.ogg`` of every song) are ordered by their song's folder.
    """
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", deb, directory], check=True)
    distinct = {}
    for path in sorted(glob.glob(os.path.join(directory, "**", "*"), recursive=True)):
        if not path.lower().endswith(AUDIO_EXTENSIONS) or \
                (only and os.path.basename(path) != only):
            continue
        with open(path, "rb") as f:
            distinct.setdefault(hashlib.sha256(f.read()).hexdigest(), path)
    return sorted(distinct.values(),
                  key=lambda path: track_name(path) if only else os.path.basename(path))


def track_name(path: str) -> str:
    """A track's name in clip file names: its file name without extension, or its
    song folder's name for a stem (``.../Metal madness/guitar.ogg`` -> ``metal_madness``)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem in STEM_NAMES:
        return os.path.basename(os.path.dirname(path)).replace(" ", "_").lower()
    return stem


def clip_starts(duration: float, stride: float = CLIP_STRIDE_SECONDS):
    """Start times (s) of the clips cut from a track of ``duration`` seconds."""
    start = SKIP_SECONDS
    while start + CLIP_SECONDS <= duration:
        yield start
        start += stride


def write_clips(paths: list, output_dir: str, count: int, stride: float = CLIP_STRIDE_SECONDS,
                label: str = "", joined: str = None) -> int:
    """Cut up to ``count`` clips round-robin over the tracks ``paths`` into
    ``output_dir`` as ``NNN[_label]_<track>_<start>s.wav``: the number of clips written.
    With ``joined``, the tracks are first joined end to end into one track of that name."""
    import librosa
    import numpy as np
    import soundfile

    from samplernn.audio import write_wav

    os.makedirs(output_dir, exist_ok=True)
    def load_mono(path: str) -> np.ndarray:
        try:
            audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        except soundfile.LibsndfileError:   # an MP3 that this libsndfile cannot read
            audio, rate = librosa.load(path, sr=None, mono=False)
            audio = np.atleast_2d(audio).T
        return librosa.resample(audio.mean(axis=1), orig_sr=rate, target_sr=SAMPLE_RATE)

    named = [(track_name(path), load_mono(path)) for path in paths]
    if joined:
        named = [(joined, np.concatenate([mono for _, mono in named]))]
    pending = []   # per track: its remaining clips, (audio at SAMPLE_RATE, start)
    for name, mono in named:
        starts = list(clip_starts(len(mono) / SAMPLE_RATE, stride))
        pending.append([(name, mono, s) for s in starts])
    written = 0
    digits = max(3, len(str(count - 1)))
    while written < count and any(pending):
        for clips in pending:
            if clips and written < count:
                name, mono, start = clips.pop(0)
                first = int(start * SAMPLE_RATE)
                clip = mono[first:first + int(CLIP_SECONDS * SAMPLE_RATE)]
                clip = clip / max(1e-6, float(np.max(np.abs(clip))))   # peak-normalized
                prefix = f"{written:0{digits}d}" + (f"_{label}" if label else "")
                write_wav(os.path.join(output_dir, f"{prefix}_{name}_{int(start)}s.wav"),
                          clip, SAMPLE_RATE)
                written += 1
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir")
    parser.add_argument("--clips", type=int, default=DEFAULT_CLIPS)
    parser.add_argument("--package", choices=sorted(SOURCES), default=DEFAULT_PACKAGE,
                        help="the music to cut: " + "; ".join(
                            f"{name}: {source.what} ({source.licence})"
                            for name, source in sorted(SOURCES.items())))
    parser.add_argument("--deb", action="append",
                        help="an already downloaded .deb of --package (once per package)")
    args = parser.parse_args()
    source = SOURCES[args.package]
    with tempfile.TemporaryDirectory(prefix="samplernn-music-") as work:
        debs = args.deb or [download(package, work) for package in source.packages]
        paths = tracks(debs, os.path.join(work, "unpacked"), source.only)
        if not paths:
            raise SystemExit(f"error: no audio tracks in {', '.join(debs)}")
        written = write_clips(paths, args.output_dir, args.clips, source.stride,
                              joined=source.joined)
    print(f"Wrote {written} clips of {CLIP_SECONDS:g} s at {SAMPLE_RATE} Hz from "
          f"{len(paths)} tracks of {', '.join(map(os.path.basename, debs))} to "
          f"{args.output_dir}")


if __name__ == "__main__":
    main()
