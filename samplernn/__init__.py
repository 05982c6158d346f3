"""SampleRNN for TensorFlow 2 / Keras 3.

Modules, one concept each:
    config        the validated model configuration (JSON <-> dataclass)
    defaults      training defaults that train.py and tune.py share
    quantization  mu-law, linear and a-law quantizers (NumPy and TF, identical)
    audio         reading any audio file as float mono; WAV files and WAV streams
    data          corpus -> equal-length sequences -> truncated-BPTT tf.data batches
    fileio        atomic writes, umask-respecting files, clear write errors
    errors        the UserError that scripts print as one line
    layers        weight-normalized linear maps and recurrent layers
    model         the multi-tier SampleRNN Keras model
    training      the compiled training step and the epoch loop
    callbacks     statistics, TensorBoard, CSV, early stopping, checkpoint saving
    interrupts    Ctrl-C as a flag checked at safe points
    progress      progress lines and ETAs
    checkpoints   run directories, checkpoint saving, finding and restoring
    run_record    what a run directory records beside its checkpoints
    sampler       the fast incremental sampler (tensors in, tensors out)
    generation    generated audio as files and streams; audio during training
    playback      playing generated audio on the sound card (optional sounddevice)
    export        the sampler as a SavedModel that runs without this package
    evaluation    negative log-likelihood of audio files, in bits per sample
    distribute    tf.distribute strategies, chief-only writing
    tuning        hyperparameter search with Keras Tuner
    chunking      cutting long recordings into equal-length chunks (pydub)
    cli           argument types, logging and clean errors for the scripts
                  (the scripts' own: no module here imports it)
    plots         waveform and log-mel spectrogram pictures (PNG)
    demo          a small synthetic corpus for trying things out
    priming       excerpts of a run's training audio that generation starts from
    spectra       short-time level, flatness and spectra of audio
    notes         measures of notes in audio (python -m samplernn.notes)
    windows       alive or dead, 2-s window by window, against the corpus
    calibration   a run's sampling temperature chosen by judging its audio
"""

import os

# librosa's onset peak picking is compiled by numba for the host CPU; on an Intel AMX host
# (numba 0.68.1, llvmlite 0.50.0) that code crashed with a segmentation fault, and code
# for a generic x86-64 CPU did not (benchmarks/RESULTS.md). It must be set before numba
# compiles anything: here, before any module of this package can load librosa.
os.environ.setdefault("NUMBA_CPU_NAME", "generic")

__version__ = "0.10.0"
