"""Cutting long recordings into equal-length training chunks (pydub).

Chunk ``n`` (numbered from 1 by position in the input) starts at sample
``(n - 1) * (chunk - overlap)`` and is exactly ``chunk`` samples long, where
``chunk`` and ``overlap`` are the millisecond lengths converted to samples at
the output rate. A trailing piece shorter than a chunk is dropped (training
needs equal lengths). A chunk is silent, and omitted, when at least half of it
is quieter than ``silence_threshold`` dBFS.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import warnings

from samplernn.errors import UserError

SILENCE_WINDOW_MS = 10   # resolution of the silence measurement
SILENT_FRACTION = 0.5    # a chunk this much (or more) below the threshold is silent


@dataclasses.dataclass
class ChunkReport:
    processed: int = 0            # full-length chunks examined
    omitted_silent: int = 0
    written: int = 0
    dropped_short: int = 0        # trailing pieces shorter than a chunk


def load_segment(path: str, sample_rate: int = None, mono: bool = True):
    """Read any pydub-readable file; convert rate and channels as asked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydub warns about ffmpeg on import; we check below
        from pydub import AudioSegment

    if not os.path.isfile(path):
        raise UserError(f"input file {path} does not exist; check --input_file")
    is_wav = path.lower().endswith(".wav")
    if not is_wav and shutil.which("ffmpeg") is None:
        raise UserError(f"reading {path} needs ffmpeg, which is not installed; install it "
                        f"(e.g. apt-get install ffmpeg) or convert the file to WAV")
    try:
        segment = AudioSegment.from_wav(path) if is_wav else AudioSegment.from_file(path)
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot decode {path}: {reason}") from None
    if mono and segment.channels > 1:
        segment = segment.set_channels(1)
    if sample_rate and segment.frame_rate != sample_rate:
        segment = segment.set_frame_rate(sample_rate)
    return segment


def is_silent(chunk, threshold_dbfs: float) -> bool:
    from pydub.silence import detect_silence

    silent_ms = sum(end - start for start, end in
                    detect_silence(chunk, min_silence_len=SILENCE_WINDOW_MS,
                                   silence_thresh=threshold_dbfs, seek_step=SILENCE_WINDOW_MS))
    return silent_ms >= SILENT_FRACTION * len(chunk)


def chunk_file(input_path: str, output_dir: str, chunk_length_ms: float, overlap_ms: float = 0,
               silence_threshold: float = -64.0, sample_rate: int = None, mono: bool = True,
               log=print) -> ChunkReport:
    """Write ``<input name>_chunk_<n>.wav`` files into ``output_dir``; return the counts."""
    if chunk_length_ms <= 0:
        raise UserError(f"--chunk_length must be positive, got {chunk_length_ms} ms")
    if not 0 <= overlap_ms < chunk_length_ms:
        raise UserError(f"--overlap must be at least 0 and less than --chunk_length "
                        f"({chunk_length_ms} ms), got {overlap_ms} ms")
    segment = load_segment(input_path, sample_rate, mono)
    rate = segment.frame_rate
    chunk = int(round(chunk_length_ms * rate / 1000))
    step = chunk - int(round(overlap_ms * rate / 1000))
    total = int(segment.frame_count())
    name = os.path.splitext(os.path.basename(input_path))[0]
    os.makedirs(output_dir, exist_ok=True)
    report = ChunkReport()
    start, number = 0, 1
    while start < total:
        if start + chunk > total:
            report.dropped_short += 1
            log(f"{name}: dropping the last {(total - start) / rate:.3f} s, shorter than a chunk")
            break
        piece = segment.get_sample_slice(start, start + chunk)
        report.processed += 1
        path = os.path.join(output_dir, f"{name}_chunk_{number}.wav")
        if is_silent(piece, silence_threshold):
            report.omitted_silent += 1
            log(f"Chunk {number} of {name} is silent: omitted")
        else:
            _export_atomically(piece, path)
            report.written += 1
        start, number = start + step, number + 1
    return report


def _export_atomically(piece, path: str) -> None:
    from samplernn.fileio import atomic_path

    with atomic_path(path) as tmp_path:
        piece.export(tmp_path, format="wav")
