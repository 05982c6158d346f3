"""Cut recordings into equal-length chunks for training.

    python chunk_audio.py --input_file recording.wav --output_dir ./chunks \
        --chunk_length 8000 --overlap 1000

Chunks are named <input name>_chunk_<n>.wav (n from 1, by position); silent
chunks are omitted and reported. See README.md.
"""

import argparse
import os

from samplernn import cli
from samplernn.cli import boolean, positive_int, run


def build_parser():
    p = cli.parser(__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input_file", required=True, help="An audio file, or a directory of them")
    p.add_argument("--output_dir", required=True, help="Created if it does not exist")
    p.add_argument("--chunk_length", type=float, default=8000, help="Chunk length in ms")
    p.add_argument("--overlap", type=float, default=0, help="Overlap of consecutive chunks, ms")
    p.add_argument("--silence_threshold", type=float, default=-64.0,
                   help="dBFS; a chunk at least half below it is omitted")
    p.add_argument("--sample_rate", type=positive_int, default=None,
                   help="Resample the chunks to this rate (default: keep the input's)")
    p.add_argument("--mono", type=boolean, default=True, help="Down-mix to mono")
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from samplernn.audio import AUDIO_EXTENSIONS
    from samplernn.chunking import ChunkReport, chunk_file
    from samplernn.errors import UndecodableAudio, UserError

    if os.path.isdir(args.input_file):
        import natsort

        inputs = natsort.natsorted(os.path.join(args.input_file, f)
                                   for f in os.listdir(args.input_file)
                                   if f.lower().endswith(AUDIO_EXTENSIONS))
        if not inputs:
            raise UserError(f"no audio files in {args.input_file}; check --input_file")
    else:
        inputs = [args.input_file]
    total, gave_none, skipped = ChunkReport(), [], []
    for path in inputs:
        try:
            report = chunk_file(path, args.output_dir, args.chunk_length, args.overlap,
                                args.silence_threshold, args.sample_rate, args.mono)
        except UndecodableAudio as e:
            if len(inputs) == 1:
                raise
            print(f"warning: {e}; skipping it", flush=True)   # as train.py skips it
            skipped.append(path)
            gave_none.append(f"{path} cannot be decoded")
            continue
        for field in ("processed", "omitted_silent", "written", "dropped_short",
                      "input_seconds"):
            setattr(total, field, getattr(total, field) + getattr(report, field))
        if not report.written:
            gave_none.append(f"{path} {report.why_nothing(args.chunk_length)}")
    if not total.written:
        what = (f"{inputs[0]} {total.why_nothing(args.chunk_length)}" if len(inputs) == 1
                else f"none of the {len(inputs)} inputs gave one: {'; '.join(gave_none)}")
        raise UserError(f"no chunk written: {what}")
    if gave_none:
        print(f"No chunk from {len(gave_none)} input(s): {'; '.join(gave_none)}")
    print(f"Done: {total.processed} chunk(s) processed, {total.omitted_silent} omitted as "
          f"silent, {total.written} written to {args.output_dir}, {total.dropped_short} "
          f"trailing piece(s) shorter than a chunk dropped"
          + (f", {len(skipped)} undecodable input(s) skipped" if skipped else ""))
    return 0


if __name__ == "__main__":
    run(main)
