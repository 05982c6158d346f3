"""Does generated audio have notes like its corpus? Onsets, decays and a picture.

    python benchmarks/onsets.py ./demo_data/demo_20.wav ./generated/demo.wav \\
        --titles "corpus: demo_20.wav" "generated: demo.wav" --png docs/demo_spectrograms.png

For each file: note onsets per second (librosa's onset detector) and how far
the level falls in the DECAY_SECONDS after an onset (median over onsets, in
dB; a plucked note falls, a drone stays near 0 dB). With ``--png``, the
log-mel spectrograms of the files one above the other, on one time axis,
cut to the shortest file.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from samplernn.notes import DECAY_SECONDS, onsets_and_decay  # noqa: E402


def note_statistics(audio: np.ndarray, sample_rate: int) -> dict:
    """Onsets per second and the median level change DECAY_SECONDS after them (dB)."""
    onsets, decay = onsets_and_decay(audio, sample_rate)
    return {"onsets_per_second": onsets, "decay_db": decay}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="WAV files, e.g. a corpus file and a "
                                                  "generated one")
    parser.add_argument("--png", help="write their log-mel spectrograms here, stacked")
    parser.add_argument("--titles", nargs="+", help="one per file (default: file names)")
    args = parser.parse_args()
    titles = args.titles or [os.path.basename(path) for path in args.files]
    if len(titles) != len(args.files):
        raise SystemExit(f"--titles: {len(titles)} given for {len(args.files)} files")
    from samplernn import audio as audio_io
    from samplernn import plots

    audios, rates = {}, set()
    for path, title in zip(args.files, titles):
        rate = audio_io.native_sample_rate(path)
        samples = audio_io.load_audio(path, rate)
        audios[title] = samples
        rates.add(rate)
        stats = note_statistics(samples, rate)
        print(f"{path}: {len(samples) / rate:.2f} s, {stats['onsets_per_second']:.2f} onsets/s, "
              f"level {stats['decay_db']:+.1f} dB {DECAY_SECONDS:g} s after an onset")
    if args.png:
        if len(rates) > 1:
            raise SystemExit(f"the files have different sample rates {sorted(rates)}")
        shortest = min(len(samples) for samples in audios.values())
        plots.write_png(args.png, plots.spectrograms_png(
            {name: samples[:shortest] for name, samples in audios.items()}, rates.pop(),
            stacked=True))
        print(f"Wrote {args.png}")


if __name__ == "__main__":
    main()
