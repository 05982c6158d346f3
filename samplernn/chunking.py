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

from samplernn.audio import AUDIO_EXTENSIONS
from samplernn.errors import UndecodableAudio, UserError

SILENCE_WINDOW_MS = 10   # resolution of the silence measurement
SILENT_FRACTION = 0.5    # a chunk this much (or more) below the threshold is silent
# Sources kept at 16 bits; anything deeper is read as 32-bit integers.
SIXTEEN_BIT_SUBTYPES = ("PCM_16", "PCM_S8", "PCM_U8", "ULAW", "ALAW", "MPEG_LAYER_III")


@dataclasses.dataclass
class ChunkReport:
    processed: int = 0            # full-length chunks examined
    omitted_silent: int = 0
    written: int = 0
    dropped_short: int = 0        # trailing pieces shorter than a chunk
    input_seconds: float = 0.0    # duration of the input(s)

    def why_nothing(self, chunk_length_ms: float) -> str:
        """Why no chunk was written: what follows the input's name in a sentence."""
        if self.processed == 0:
            return (f"is {self.input_seconds:.2f} s long, shorter than --chunk_length "
                    f"{chunk_length_ms:g} ms")
        return f"gives only silent chunks ({self.processed}; see --silence_threshold)"


def load_segment(path: str, sample_rate: int = None, mono: bool = True):
    """Read an audio file as a pydub ``AudioSegment``; convert rate and channels as asked.

    What libsndfile reads (WAV, FLAC, OGG, MP3, AIFF...) is decoded by
    soundfile, without ffmpeg; other formats go through pydub's ffmpeg.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydub warns about ffmpeg on import; we check below
        from pydub import AudioSegment

    if not os.path.isfile(path):
        raise UserError(f"input file {path} does not exist; check --input_file")
    segment = _read_with_soundfile(path, AudioSegment)
    if segment is None:
        cannot_decode = (f"{path} cannot be decoded: it is not audio, or it is corrupt or in "
                         f"an unsupported format")
        if path.lower().endswith(AUDIO_EXTENSIONS):   # libsndfile's own formats
            raise UndecodableAudio(cannot_decode)
        if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
            raise UndecodableAudio(f"reading {path} needs ffmpeg, which is not installed; "
                                   f"install it "
                            f"(e.g. apt-get install ffmpeg) or convert the file to WAV")
        try:
            segment = AudioSegment.from_file(path)
        except Exception:
            raise UndecodableAudio(cannot_decode) from None
    if mono and segment.channels > 1:
        segment = segment.set_channels(1)
    if sample_rate and segment.frame_rate != sample_rate:
        segment = segment.set_frame_rate(sample_rate)
    return segment


def _read_with_soundfile(path: str, segment_type):
    """The file as an ``AudioSegment`` of 16- or 32-bit samples, or None if
    libsndfile cannot read it."""
    import soundfile

    from samplernn.audio import quiet_stderr

    try:
        with quiet_stderr():   # the MP3 decoder prints notes about broken frames
            info = soundfile.info(path)
            dtype = "int16" if info.subtype in SIXTEEN_BIT_SUBTYPES else "int32"
            samples, rate = soundfile.read(path, dtype=dtype, always_2d=True)
    except Exception:  # soundfile raises several types for unreadable files
        return None
    if samples.size == 0:
        return None
    return segment_type(samples.tobytes(), frame_rate=rate, channels=samples.shape[1],
                        sample_width=samples.dtype.itemsize)


def is_silent(chunk, threshold_dbfs: float) -> bool:
    from pydub.silence import detect_silence

    silent_ms = sum(end - start for start, end in
                    detect_silence(chunk, min_silence_len=SILENCE_WINDOW_MS,
                                   silence_thresh=threshold_dbfs, seek_step=SILENCE_WINDOW_MS))
    return silent_ms >= SILENT_FRACTION * len(chunk)


def chunk_file(input_path: str, output_dir: str, chunk_length_ms: float, overlap_ms: float = 0,
               silence_threshold: float = -64.0, sample_rate: int = None, mono: bool = True,
               log=print) -> ChunkReport:
    """Write ``<input name>_chunk_<n>.wav`` files into ``output_dir`` (created with the
    first one); return the counts."""
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
    report = ChunkReport(input_seconds=total / rate)   # output_dir is made at the first chunk
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
