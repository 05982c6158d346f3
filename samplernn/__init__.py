"""SampleRNN for TensorFlow 2 / Keras 3.

Modules, one concept each:
    config        the validated model configuration (JSON <-> dataclass)
    quantization  mu-law, linear and a-law quantizers (NumPy and TF, identical)
    audio         reading any audio file as float mono; atomic WAV writing
    data          corpus -> equal-length sequences -> truncated-BPTT tf.data batches
    fileio        atomic writes
    errors        the UserError that scripts print as one line
    layers        weight-normalized linear maps and recurrent layers
    model         the multi-tier SampleRNN Keras model
    training      the compiled training step, the epoch loop and its callbacks
    checkpoints   run directories, checkpoint saving, finding and restoring
    generation    the fast incremental sampler
    evaluation    negative log-likelihood of audio files, in bits per sample
    distribute    tf.distribute strategies, chief-only writing
    tuning        hyperparameter search with Keras Tuner
    chunking      cutting long recordings into equal-length chunks (pydub)
    cli           argument types, logging and clean errors for the scripts
    plots         waveform and log-mel spectrogram pictures (PNG)
    demo          a small synthetic corpus for trying things out
"""
