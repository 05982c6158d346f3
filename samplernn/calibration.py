"""Choosing a run's sampling temperature by listening to its audio.

How a trained model sounds depends on its sampling temperature more than on anything
else a user can set, and the best temperature differs from corpus to corpus: on the
study's soundtrack 0.9-0.95 keeps playing with notes, on the solo guitar 0.95 plays
cleaner tones than the corpus's, and on recorded voices 0.95 falls silent where 1.0
keeps talking (benchmarks/RESULTS.md). So at the end of training, unless
``--temperature`` was given, train.py generates SEQUENCES primed sequences of SECONDS
at each of CANDIDATES, judges each file against the corpus (its share of alive 2-s
windows, :mod:`samplernn.windows`, and whether it has notes like the corpus,
:func:`samplernn.notes.has_notes`) and records the temperature with the best score
(:attr:`Trial.score`) as the run's (``generate.py``'s default for it).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from samplernn import notes, quantization, windows

CANDIDATES = (0.95, 0.98, 0.9, 1.0)   # in order of preference when scores tie
SEQUENCES = 4                   # files generated per candidate
SECONDS = 16.0                  # each: long enough to see a fall into silence or noise
NOTES_WEIGHT = 0.25             # of the share of files with notes, beside the alive share
CORPUS_SEQUENCES = 16           # training sequences the files are judged against
SEED_OFFSET = 1000              # calibration draws with --random_seed + this, so that
#                                 generate.py's files (--random_seed) are not the ones
#                                 the temperature was chosen on


@dataclasses.dataclass(frozen=True)
class Trial:
    """One candidate temperature's files: mean alive share, files with notes, score."""
    temperature: float
    alive_share: float
    with_notes: int
    files: int

    @property
    def score(self) -> float:
        """The alive share, plus NOTES_WEIGHT times the share of files with notes: audio
        that keeps playing first, notes like the corpus's to choose between such."""
        return self.alive_share + NOTES_WEIGHT * self.with_notes / self.files

    def describe(self) -> str:
        return (f"temperature {self.temperature:g}: {self.alive_share:.2f} of 2-s windows "
                f"alive, {self.with_notes} of {self.files} files with notes like the corpus")


def judge_files(audios: list, sample_rate: int, bounds, corpus_medians: dict) -> tuple:
    """``(mean alive share, files with notes)`` of float ``audios`` ``[samples]`` each;
    ``bounds`` (:class:`samplernn.windows.WindowBounds`) None: every alive share 0."""
    alive, with_notes = [], 0
    for audio in audios:
        measured = windows.window_measures(audio, sample_rate) if bounds else []
        alive.append(windows.judge(measured, bounds).alive_share if measured else 0.0)
        with_notes += notes.has_notes(notes.measure(audio, sample_rate), corpus_medians)["all"]
    return float(np.mean(alive)), with_notes


def choose_temperature(sampler, corpus_audio: np.ndarray, prime=None,
                       candidates=CANDIDATES, sequences: int = SEQUENCES,
                       seconds: float = SECONDS, random_seed: int = 0, log=None) -> tuple:
    """The best of ``candidates`` for ``sampler``'s model: ``(temperature, [Trial])``.

    ``corpus_audio [sequences, samples]``: float audio of the corpus (its windows and
    notes medians are the reference); ``prime``: classes to start each sequence from
    (:meth:`samplernn.sampler.Sampler.initial`), as generate.py does.
    """
    config = sampler.config
    rate = config.sample_rate
    bounds = windows.corpus_bounds(corpus_audio, rate)
    medians = notes.corpus_medians([notes.measure(a, rate) for a in corpus_audio])
    trials = []
    for temperature in candidates:
        blocks = list(sampler.generate(sequences, int(seconds * rate), [temperature],
                                       random_seed, prime))
        audio = quantization.dequantize(np.concatenate(blocks, axis=1), config.q_type,
                                        config.q_levels)
        # bounds is None for a corpus of sequences shorter than a window: notes alone
        alive, with_notes = judge_files(list(audio), rate, bounds, medians)
        trials.append(Trial(temperature, alive, with_notes, sequences))
        if log:
            log(trials[-1].describe())
    best = max(trials, key=lambda t: (t.score, -candidates.index(t.temperature)))
    return best.temperature, trials


def calibrate_run(model, data, run_dir: str, prime, truncation: dict, precision: str,
                  random_seed: int, log) -> float | None:
    """Choose the temperature of a run that just trained (:func:`choose_temperature`
    on its training sequences) and record it beside its checkpoints; Ctrl-C skips it
    (the recorded temperature stays). Returns the temperature chosen, or None."""
    from samplernn.run_record import save_sampling
    from samplernn.sampler import Sampler

    config = model.config
    classes = (None if not prime else
               quantization.quantize(np.stack(prime), config.q_type, config.q_levels))
    corpus = data.spread_sequences(CORPUS_SEQUENCES)
    sequence_seconds = corpus.shape[1] / config.sample_rate
    # A corpus too short for 2-s windows (a test's) is judged on files of its length.
    seconds = SECONDS if sequence_seconds >= windows.WINDOW_SECONDS else sequence_seconds
    log.info("Choosing the sampling temperature: %d x %.3g s at each of %s",
             SEQUENCES, seconds, ", ".join(f"{t:g}" for t in CANDIDATES))
    try:
        sampler = Sampler(model, precision=precision)
        sampler.loop.sample_level.set_truncation(**truncation)
        chosen, trials = choose_temperature(sampler, corpus, classes, seconds=seconds,
                                            random_seed=random_seed + SEED_OFFSET,
                                            log=log.info)
    except KeyboardInterrupt:
        log.info("Interrupted: the temperature was not chosen; generate.py uses the one "
                 "recorded before")
        return None
    save_sampling(run_dir, [chosen], **truncation)
    log.info("Chose temperature %g (the most alive, then the most files with notes); "
             "generate.py samples this run at it unless given --temperature", chosen)
    return chosen
