"""A small synthetic corpus for trying the tools out: ``python -m samplernn.demo DIR``.

It writes short WAV files of plucked, harmonic notes on a pentatonic scale
with a little noise: structured enough for a small model to learn audibly
in a few minutes, and generated here, so nothing has to be downloaded.
"""

import argparse
import os

import numpy as np

from samplernn.audio import write_wav

DEMO_SAMPLE_RATE = 16000
PENTATONIC_SEMITONES = (0, 2, 4, 7, 9, 12)
BASE_FREQUENCY_HZ = 220.0
NOTE_SECONDS = 0.25
NUM_HARMONICS = 4
NOISE_LEVEL = 0.003


def synthesize(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Plucked harmonic notes, one every NOTE_SECONDS: float32 ``[num_samples]``."""
    note_length = int(NOTE_SECONDS * sample_rate)
    t = np.arange(note_length) / sample_rate
    envelope = np.exp(-t * 12.0)
    notes = []
    for _ in range(int(np.ceil(seconds / NOTE_SECONDS))):
        frequency = BASE_FREQUENCY_HZ * 2 ** (rng.choice(PENTATONIC_SEMITONES) / 12)
        note = sum(np.sin(2 * np.pi * frequency * h * t) / h
                   for h in range(1, NUM_HARMONICS + 1))
        notes.append(0.4 * envelope * note)
    audio = np.concatenate(notes)[: int(seconds * sample_rate)]
    audio += NOISE_LEVEL * rng.standard_normal(audio.shape)
    return audio.astype(np.float32)


def write_demo_corpus(output_dir: str, num_files: int = 24, seconds: float = 4.0,
                      sample_rate: int = DEMO_SAMPLE_RATE, seed: int = 0) -> list:
    """Write ``num_files`` WAV files into ``output_dir``; return their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(num_files):
        path = os.path.join(output_dir, f"demo_{index:02d}.wav")
        write_wav(path, synthesize(seconds, sample_rate, rng), sample_rate)
        paths.append(path)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("output_dir", nargs="?", default="./demo_data")
    parser.add_argument("--num_files", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    paths = write_demo_corpus(args.output_dir, args.num_files, args.seconds)
    print(f"Wrote {len(paths)} demo files of {args.seconds:g} s to {args.output_dir}")


if __name__ == "__main__":
    main()
