"""From a directory of audio files to truncated-BPTT training batches.

How the corpus becomes training sequences
-----------------------------------------
1. Every audio file under ``data_dir`` (recursively, natural sort order) is
   decoded once, at the model's sample rate, and quantized once; the result
   stays in memory as small integers for the whole run.
2. All training sequences have the same length, so that a batch of them can
   step through its windows together. A sequence is ``top_frame_size`` samples
   of context followed by ``windows_per_sequence`` windows of ``seq_len``
   samples. ``windows_per_sequence`` is the number of whole windows in the
   shortest file that is at least :data:`SHORT_FILE_FRACTION` of the median
   file length, capped at :data:`MAX_SEQUENCE_SECONDS` of audio.
3. Each file is cut into as many consecutive sequences as fit (each one's
   context is the end of the previous one). What is dropped: the tail of each
   file that does not fill a whole sequence, and files shorter than one
   sequence (with a warning naming them): those shorter than
   ``top_frame_size + seq_len`` samples, and those much shorter than the
   median, so that one short file cannot shorten every sequence.
4. The last ``num_val_batches * batch_size`` sequences (in file order) are held
   out for validation; the rest are for training.

How a batch stream looks
------------------------
Each epoch the training sequences are shuffled (seeded by ``seed`` and the
epoch number, so a resumed run sees the same order) and grouped into groups of
``batch_size`` (the incomplete last group is left out of that epoch). Each
group yields its windows in order; element ``w`` of a group is::

    inputs  int32 [batch, top_frame_size + seq_len]  samples [w*seq_len, (w+1)*seq_len + top)
    targets int32 [batch, seq_len]                    inputs[:, top_frame_size:]
    reset   bool  []                                  True for w == 0 only

``reset`` tells the model that a new group begins, so it must start from its
initial RNN state there, and only there; otherwise it carries the state over
from the previous window. Once the corpus is in memory, no Python runs per
step: slicing, batching and prefetching happen inside tf.data.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np

from samplernn import audio as audio_io
from samplernn import quantization
from samplernn.config import ModelConfig
from samplernn.errors import UserError

log = logging.getLogger("samplernn")

MAX_SEQUENCE_SECONDS = 8.0  # the chunk length PRiSM's chunk_audio.py defaults to
# Windows made ready ahead of the training step. A fixed number, with tf.data's
# autotuning off: its background thread sleeps up to 60 s between passes, and
# freeing an iterator waits for that thread to wake, so with it every epoch's end
# (and every Ctrl-C or budget stop) waited up to a minute for nothing
# (benchmarks/RESULTS.md, "The minute lost at each epoch's end").
PREFETCH_WINDOWS = 4
# Files shorter than this fraction of the median file length (in windows) do
# not set the sequence length; they are left out with a warning.
SHORT_FILE_FRACTION = 0.5


# ------------------------------------------------------------------ discovery
def find_audio_files(data_dir: str) -> list:
    """Audio files under ``data_dir`` (recursive), in natural sort order."""
    import natsort

    if not data_dir:
        raise UserError("no --data_dir given; pass the directory that holds your audio")
    if not os.path.isdir(data_dir):
        raise UserError(f"data directory {data_dir} does not exist; check --data_dir")
    paths = []
    for root, dirs, names in os.walk(data_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        paths += [os.path.join(root, n) for n in names
                  if n.lower().endswith(audio_io.AUDIO_EXTENSIONS) and not n.startswith(".")]
    if not paths:
        raise UserError(f"no audio files ({', '.join(audio_io.AUDIO_EXTENSIONS)}) found "
                        f"under {data_dir}; check --data_dir")
    return natsort.natsorted(paths)


def load_quantized_files(paths: list, config: ModelConfig) -> dict:
    """Decode and quantize each file once: ``{path: int array [num_samples]}``.

    Files that cannot be decoded are skipped with a warning naming them; it is
    an error only when none is left. Resampling is reported once.
    """
    dtype = quantization.storage_dtype(config.q_levels)
    loaded, resampled = {}, []
    for path in paths:
        try:
            rate = audio_io.native_sample_rate(path)
            samples = audio_io.load_audio(path, config.sample_rate)
        except audio_io.AudioDecodeError as e:
            log.warning("warning: %s; skipping it", e)
            continue
        if rate != config.sample_rate:
            resampled.append((path, rate))
        loaded[path] = quantization.quantize(samples, config.q_type,
                                             config.q_levels).astype(dtype)
    if resampled:
        path, rate = resampled[0]
        log.info("Resampled %d file(s) to %d Hz (for example %s, which is %d Hz)",
                 len(resampled), config.sample_rate, path, rate)
    if not loaded:
        raise UserError(f"none of the {len(paths)} audio file(s) could be decoded")
    return loaded


# ------------------------------------------------------------------ sequences
def cut_sequences(files: dict, config: ModelConfig,
                  max_sequence_seconds: float = MAX_SEQUENCE_SECONDS):
    """Cut quantized files into equal-length sequences.

    Args:
        files: ``{name: int array [num_samples]}`` in corpus order.
    Returns:
        ``(sequences, windows_per_sequence)`` where ``sequences`` is
        ``[num_sequences, top_frame_size + windows_per_sequence * seq_len]``.
    """
    top, seq_len = config.top_frame_size, config.seq_len
    minimum = top + seq_len
    usable = {}
    for name, samples in files.items():
        if len(samples) < minimum:
            log.warning("warning: skipping %s: %d samples is shorter than one training "
                        "window (%d samples = top frame size + seq_len)",
                        name, len(samples), minimum)
        else:
            usable[name] = samples
    if not usable:
        raise UserError(f"every audio file is shorter than one training window of {minimum} "
                        f"samples ({minimum / config.sample_rate:.3f} s); use longer files "
                        f"or a smaller seq_len")
    max_windows = max(1, int(max_sequence_seconds * config.sample_rate) // seq_len)
    file_windows = {name: (len(s) - top) // seq_len for name, s in usable.items()}
    # One short file must not shorten every sequence: files under a fraction of
    # the median length do not count, and are left out below.
    floor = SHORT_FILE_FRACTION * float(np.median(list(file_windows.values())))
    windows = min(max_windows, min(w for w in file_windows.values() if w >= floor))
    too_short = [name for name, w in file_windows.items() if w < windows]
    if too_short:
        log.warning("warning: leaving out %d file(s) much shorter than the others (under "
                    "%.2f s, the training sequence length): %s", len(too_short),
                    (top + windows * seq_len) / config.sample_rate, ", ".join(too_short))
    span = windows * seq_len
    sequences = [samples[start:start + top + span]
                 for name, samples in usable.items() if file_windows[name] >= windows
                 for start in range(0, len(samples) - top - span + 1, span)]
    return np.stack(sequences), windows


@dataclasses.dataclass(frozen=True)
class ReplicaShard:
    """Which rows of each batch a stream delivers, for training on several replicas.

    The batch is split into ``num_replicas`` equal row blocks; a stream for
    replicas ``first .. first + count - 1`` yields, for each window, one
    element per replica in that order (how ``tf.distribute`` hands a worker's
    elements to its local replicas).
    """
    num_replicas: int = 1
    first: int = 0
    count: int = 1


WHOLE_BATCH = ReplicaShard()


@dataclasses.dataclass
class SplitSequences:
    train: np.ndarray       # [num_train, sequence_length]
    validation: np.ndarray  # [num_val, sequence_length]


def split_sequences(sequences: np.ndarray, batch_size: int,
                    num_val_batches: int) -> SplitSequences:
    """Hold out the last ``num_val_batches * batch_size`` sequences."""
    if batch_size <= 0:
        raise UserError(f"--batch_size must be a positive integer, got {batch_size}")
    if num_val_batches < 0:
        raise UserError(f"--num_val_batches must be 0 or more, got {num_val_batches}")
    num_val = num_val_batches * batch_size
    num_train = len(sequences) - num_val
    if num_train < batch_size:
        # Only advice that can be followed: each option named here would work.
        options = []
        fitting_batch = len(sequences) // (num_val_batches + 1)
        if 0 < fitting_batch < batch_size:
            options.append(f"lower --batch_size to at most {fitting_batch}")
        if num_val_batches and len(sequences) >= batch_size:
            options.append("pass --num_val_batches 0 (no validation)")
        options.append("add audio")
        raise UserError(
            f"the corpus gives {len(sequences)} sequence(s) but --batch_size {batch_size} "
            f"with --num_val_batches {num_val_batches} needs at least "
            f"{batch_size * (num_val_batches + 1)}: {', or '.join(options)}")
    return SplitSequences(train=sequences[:num_train], validation=sequences[num_train:])


@dataclasses.dataclass
class Corpus:
    """The corpus decoded, cut and split, in memory: everything before TensorFlow."""
    sequences: SplitSequences
    windows_per_sequence: int
    files_found: int         # audio files under the data directory
    files_used: int          # of which some sequence was cut

    @property
    def files_skipped(self) -> int:
        return self.files_found - self.files_used


def load_corpus(data_dir: str, config: ModelConfig, batch_size: int,
                num_val_batches: int = 1, decoded: dict = None) -> Corpus:
    """Find, decode, cut and split the corpus under ``data_dir`` (no TensorFlow, so a
    bad directory is an error before it loads). Files skipped are named in warnings.

    ``decoded``, a dict kept by the caller, holds the files decoded by earlier
    calls, by what decoding depends on (directory, sample rate, quantization):
    a hyperparameter search decodes each corpus once, whatever it cuts from it.
    """
    paths = find_audio_files(data_dir)
    key = (os.path.abspath(data_dir), config.sample_rate, config.q_type, config.q_levels)
    if decoded is not None and key in decoded:
        files = decoded[key]
    else:
        files = load_quantized_files(paths, config)
        if decoded is not None:
            decoded[key] = files
    sequences, windows = cut_sequences(files, config)
    top, seq_len = config.top_frame_size, config.seq_len
    used = sum(1 for samples in files.values() if (len(samples) - top) // seq_len >= windows)
    return Corpus(split_sequences(sequences, batch_size, num_val_batches), windows,
                  len(paths), used)


# ------------------------------------------------------------------- tf.data
class TrainingData:
    """The in-memory corpus and the tf.data streams built from it."""

    def __init__(self, sequences: SplitSequences, windows_per_sequence: int,
                 config: ModelConfig, batch_size: int, seed: int = 0):
        import tensorflow as tf

        self.config = config
        self.batch_size = batch_size
        self.seed = seed
        self.windows_per_sequence = windows_per_sequence
        self.num_train_sequences = len(sequences.train)
        self.num_val_sequences = len(sequences.validation)
        # Variables, not constants: the corpus is never copied into a graph.
        with tf.device("/cpu:0"):
            self._train = tf.Variable(sequences.train, trainable=False, name="train_corpus")
            self._validation = tf.Variable(sequences.validation, trainable=False,
                                           name="validation_corpus")

    @classmethod
    def from_corpus(cls, corpus: Corpus, config: ModelConfig, batch_size: int,
                    seed: int = 0) -> "TrainingData":
        """The streams of a loaded corpus; logs the corpus line."""
        data = cls(corpus.sequences, corpus.windows_per_sequence, config, batch_size, seed)
        length = corpus.sequences.train.shape[1]
        skipped = (f" ({corpus.files_skipped} of {corpus.files_found} skipped, named above)"
                   if corpus.files_skipped else "")
        log.info("Corpus: %d file(s) used%s, %d sequence(s) of %.2f s (%d windows of %d "
                 "samples); %d for training, %d for validation", corpus.files_used, skipped,
                 data.num_train_sequences + data.num_val_sequences,
                 length / config.sample_rate, corpus.windows_per_sequence, config.seq_len,
                 data.num_train_sequences, data.num_val_sequences)
        return data

    @classmethod
    def from_directory(cls, data_dir: str, config: ModelConfig, batch_size: int,
                       num_val_batches: int = 1, seed: int = 0) -> "TrainingData":
        """:func:`load_corpus`, then :meth:`from_corpus`."""
        return cls.from_corpus(load_corpus(data_dir, config, batch_size, num_val_batches),
                               config, batch_size, seed)

    def excerpt(self, seconds: float) -> np.ndarray:
        """Float audio of the first validation sequence (or training one): ``[samples]``."""
        corpus = self._validation if self.num_val_sequences else self._train
        samples = corpus[0, :int(seconds * self.config.sample_rate)].numpy()
        return quantization.dequantize(samples, self.config.q_type, self.config.q_levels)

    def spread_sequences(self, count: int) -> np.ndarray:
        """Float audio of up to ``count`` training sequences spread evenly over the
        training set, ``[sequences, samples]``."""
        import tensorflow as tf

        rows = np.unique(np.linspace(0, self.num_train_sequences - 1, count).astype(int))
        return quantization.dequantize(tf.gather(self._train, rows).numpy(),
                                       self.config.q_type, self.config.q_levels)

    def prime_excerpts(self, seconds: float, count: int) -> list:
        """Up to ``count`` excerpts of ``seconds`` of training audio, float ``[samples]``
        each, from sequences spread over the training set
        (:func:`samplernn.priming.choose_excerpts`)."""
        from samplernn.priming import choose_excerpts

        return choose_excerpts(self.spread_sequences(2 * count),
                               int(round(seconds * self.config.sample_rate)), count)

    @property
    def train_steps_per_epoch(self) -> int:
        return (self.num_train_sequences // self.batch_size) * self.windows_per_sequence

    @property
    def validation_steps(self) -> int:
        return (self.num_val_sequences // self.batch_size) * self.windows_per_sequence

    def train_order(self, epoch: int) -> np.ndarray:
        """Sequence indices of each group for ``epoch``: ``[num_groups, batch]``."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.num_train_sequences)
        num_groups = self.num_train_sequences // self.batch_size
        return order[:num_groups * self.batch_size].reshape(num_groups, self.batch_size)

    def train_dataset(self, epoch: int, shard: ReplicaShard = WHOLE_BATCH, skip_steps: int = 0):
        """The training stream of ``epoch`` (0-based), ``train_steps_per_epoch`` long
        (times ``shard.count``), less its first ``skip_steps`` steps."""
        return self._windows(self._train, self.train_order(epoch), shard, skip_steps)

    def validation_dataset(self, shard: ReplicaShard = WHOLE_BATCH):
        """The validation stream, in fixed order, ``validation_steps`` long."""
        num_groups = self.num_val_sequences // self.batch_size
        order = np.arange(num_groups * self.batch_size).reshape(num_groups, self.batch_size)
        return self._windows(self._validation, order, shard)

    def distributed(self, strategy, make_dataset):
        """``make_dataset(shard)`` for each worker of ``strategy``, as a distributed dataset."""

        def dataset_for_worker(context):
            local = context.num_replicas_in_sync // context.num_input_pipelines
            return make_dataset(ReplicaShard(context.num_replicas_in_sync,
                                             context.input_pipeline_id * local, local))

        return strategy.distribute_datasets_from_function(dataset_for_worker)

    def _windows(self, corpus, order: np.ndarray, shard: ReplicaShard, skip_steps: int = 0):
        import tensorflow as tf

        top, seq_len = self.config.top_frame_size, self.config.seq_len
        windows, replicas = self.windows_per_sequence, shard.count
        rows = self.batch_size // shard.num_replicas
        # [groups, replicas of this stream, rows per replica]
        order = order.reshape(len(order), shard.num_replicas, rows)
        order = order[:, shard.first:shard.first + replicas]

        def group_windows(indices):
            sequences = tf.cast(tf.gather(corpus, indices), tf.int32)  # [replicas, rows, length]

            def window(k):
                k = tf.cast(k, tf.int32)
                w, replica = k // replicas, k % replicas
                start = w * seq_len
                inputs = sequences[replica, :, start:start + top + seq_len]
                return inputs, inputs[:, top:], tf.equal(w, 0)

            return tf.data.Dataset.range(windows * replicas).map(window)

        dataset = tf.data.Dataset.from_tensor_slices(order.astype(np.int32))
        dataset = dataset.flat_map(group_windows).skip(skip_steps * replicas)
        options = tf.data.Options()
        options.autotune.enabled = False   # see PREFETCH_WINDOWS
        return dataset.prefetch(PREFETCH_WINDOWS).with_options(options)
