import os

import numpy as np
import pytest
import soundfile
import tensorflow as tf

import generate
from samplernn import checkpoints, defaults, generation_files, run_record, runs
from samplernn.config import save_config
from samplernn.errors import UserError
from samplernn.model import build_model
from samplernn.sampler import Sampler
from conftest import TRAINED_TEMPERATURES, tiny_config, write_tone

EXACTNESS_VARIANTS = [
    dict(frame_sizes=[16]),
    dict(frame_sizes=[4, 16]),
    dict(frame_sizes=[2, 4, 16]),
    dict(frame_sizes=[4, 16], rnn_type="lstm"),
    dict(frame_sizes=[4, 16], skip_conn=True, num_rnn_layers=2),
    dict(frame_sizes=[2, 4, 16], rnn_type="lstm", skip_conn=True, num_rnn_layers=2),
]


def trained_like(model, seed=0):
    """Move every weight away from its initial value, so the test sees all of them."""
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        v.assign(v.numpy() + 0.1 * rng.standard_normal(v.shape).astype(np.float32))
    return model


@pytest.mark.parametrize("changes", EXACTNESS_VARIANTS)
def test_sampler_is_exactly_the_trained_model(changes):
    config = tiny_config(**changes)
    model = trained_like(build_model(config))
    inputs = np.random.default_rng(1).integers(0, 256, (2, 16 + 64)).astype(np.int32)
    expected, _ = model(tf.constant(inputs), model.initial_states(2))
    got = Sampler(model).teacher_forced_logits(inputs)
    relative = np.max(np.abs(got - expected.numpy())) / np.max(np.abs(expected.numpy()))
    assert relative < 1e-4


BFLOAT16_LOGIT_TOLERANCE = 2.0 ** -5
"""Relative to the largest logit. One bfloat16 rounding is off by at most 2^-9
relative; a logit passes through about ten rounded products (frame input, RNN
steps carrying rounded states, skip and upsampling maps, three MLP layers), and
the errors add rather than multiply, which measured about 2^-7 at worst on these
variants. 2^-5 leaves room for that; a wrong weight or a lost cast is far larger."""


def bits_per_sample(logits, targets):
    log_probs = tf.nn.log_softmax(tf.constant(logits, tf.float32)).numpy()
    return -np.mean(np.take_along_axis(log_probs, targets[..., None], -1)) / np.log(2)


@pytest.mark.parametrize("changes", EXACTNESS_VARIANTS[1::2])
def test_bfloat16_sampler_stays_close_to_the_model(changes):
    model = trained_like(build_model(tiny_config(**changes)))
    inputs = np.random.default_rng(1).integers(0, 256, (2, 16 + 64)).astype(np.int32)
    expected = model(tf.constant(inputs), model.initial_states(2))[0].numpy()
    sampler = Sampler(model, precision="bfloat16")
    stored = {name: v.dtype for name, v in sampler.weight_variables.items()}
    assert stored.pop(model.sample_mlp.output_map.name) == tf.float32   # float32 logits
    assert set(stored.values()) == {tf.bfloat16}
    got = sampler.teacher_forced_logits(inputs)
    relative = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
    assert 1e-4 < relative < BFLOAT16_LOGIT_TOLERANCE   # rounded, but only by rounding
    targets = inputs[:, 16:]
    assert abs(bits_per_sample(got, targets) - bits_per_sample(expected, targets)) < 0.01


def test_seed_warm_up_equals_training_states():
    config = tiny_config(frame_sizes=[2, 4, 16], rnn_type="lstm")
    model = trained_like(build_model(config))
    seed = np.random.default_rng(2).integers(0, 256, 16 * 5 + 3)  # 3 leading samples dropped
    history, states = Sampler(model).initial(1, seed)
    np.testing.assert_array_equal(history.numpy()[0], seed[-16:])
    _, expected = model(tf.constant(seed[3:][None], tf.int32), model.initial_states(1))
    for got, want in zip(tf.nest.flatten(states), tf.nest.flatten(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_generation_is_reproducible_and_temperature_matters():
    model = trained_like(build_model(tiny_config()))
    sampler = Sampler(model)
    run = lambda seed, temps: np.concatenate(list(sampler.generate(2, 100, temps, seed)), 1)  # noqa
    a = run(1, [1.0])
    assert a.shape == (2, 100) and a.min() >= 0 and a.max() < 256
    np.testing.assert_array_equal(a, run(1, [1.0]))
    assert not np.array_equal(a, run(2, [1.0]))
    cold = run(1, [0.05])
    assert len(np.unique(cold)) < len(np.unique(a))  # low temperature: less varied


def test_temperature_list_and_file_names():
    assert generation_files.expand_temperatures([0.5, 0.9], 4) == [0.5, 0.9, 0.9, 0.9]
    assert generation_files.expand_temperatures([0.5, 0.9, 1.0], 2) == [0.5, 0.9]
    with pytest.raises(UserError, match="positive"):
        generation_files.expand_temperatures([0.0], 1)
    assert generation_files.sequence_paths("out/x.wav", [0.5]) == ["out/x.wav"]
    assert generation_files.sequence_paths("out/x.wav", [0.5, 1.0]) == ["out/x_1_t0.5.wav",
                                                                  "out/x_2_t1.wav"]


@pytest.fixture
def checkpoint(tmp_path):
    """A saved (untrained) tiny model in a run directory."""
    config = tiny_config()
    model = trained_like(build_model(config))
    run_dir = runs.new_run_dir(str(tmp_path / "logdir"), "g")
    run_record.save_run_config(run_dir, config)
    checkpoints.make_checkpoint(model).write(os.path.join(run_dir, "model.ckpt-7"))
    tf.train.CheckpointManager(checkpoints.make_checkpoint(model), run_dir, 5,
                               checkpoint_name="model.ckpt").save(checkpoint_number=8)
    return tmp_path, run_dir, config


@pytest.mark.slow   # several model builds and compilations: about 10 s
def test_generate_script_writes_files_for_every_checkpoint_form(checkpoint):
    tmp, run_dir, config = checkpoint
    for form in (os.path.join(run_dir, "model.ckpt-7"), run_dir, str(tmp / "logdir" / "g")):
        out = str(tmp / "out" / "a.wav")
        assert generate.main(["--output_path", out, "--checkpoint_path", form, "--dur", "0.1"]) == 0
        audio, rate = soundfile.read(out)
        assert rate == config.sample_rate and len(audio) == int(0.1 * config.sample_rate)
        assert np.std(audio) > 0
    generate.main(["--output_path", str(tmp / "b.wav"), "--checkpoint_path", run_dir,
                   "--num_seqs", "3", "--temperature", "0.5", "1.0", "--dur", "0.05",
                   "--sample_rate", "16000"])
    names = sorted(f for f in os.listdir(tmp) if f.endswith(".wav"))
    assert names == ["b_1_t0.5.wav", "b_2_t1.wav", "b_3_t1.wav"]
    assert soundfile.info(str(tmp / "b_1_t0.5.wav")).samplerate == 16000


def test_generate_samples_at_the_temperatures_its_run_recorded(trained_run, checkpoint):
    """train.py records its --temperature beside the run's checkpoints; generate.py without
    --temperature samples at them (each file name carries its temperature), and at
    defaults.TEMPERATURE for a checkpoint whose run recorded none."""
    _, _, trained_dir = trained_run
    recorded = [float(t) for t in TRAINED_TEMPERATURES]
    assert recorded[0] != recorded[1]
    assert run_record.recorded_temperatures(os.path.join(trained_dir, "x")) == recorded
    tmp, untrained_dir, _ = checkpoint
    for stem, run_dir in (("trained", trained_dir), ("untrained", untrained_dir)):
        assert generate.main(["--output_path", str(tmp / "rec" / f"{stem}.wav"),
                              "--checkpoint_path", run_dir, "--num_seqs", "3",
                              "--dur", "0.02"]) == 0
    assert sorted(os.listdir(tmp / "rec")) == sorted(
        [f"trained_1_t{recorded[0]:g}.wav", f"trained_2_t{recorded[1]:g}.wav",
         f"trained_3_t{recorded[1]:g}.wav"]
        + [f"untrained_{i}_t{defaults.TEMPERATURE:g}.wav" for i in (1, 2, 3)])


def test_generate_with_seed(checkpoint):
    tmp, run_dir, config = checkpoint
    seed = write_tone(str(tmp / "seed.flac"), 0.2, 16000)  # resampled to the model's 8 kHz
    out = str(tmp / "s.wav")
    generate.main(["--output_path", out, "--checkpoint_path", run_dir, "--dur", "0.1",
                   "--seed", seed, "--seed_offset", "100", "--include_seed"])
    seed_samples = int(0.2 * 8000) - 100
    assert len(soundfile.read(out)[0]) == seed_samples + 800


def test_generate_errors(checkpoint):
    tmp, run_dir, config = checkpoint
    base = ["--output_path", str(tmp / "e.wav"), "--checkpoint_path", run_dir]
    with pytest.raises(UserError, match="no checkpoint found"):
        generate.main(["--output_path", "x.wav", "--checkpoint_path", str(tmp / "missing")])
    other = str(tmp / "other.config.json")
    save_config(config.replace(dim=64), other)
    with pytest.raises(UserError, match=r"does not match checkpoint .*dim: 32 in the "
                                        r"checkpoint, 64 given now"):
        generate.main(base + ["--config_file", other])
    short = write_tone(str(tmp / "short.wav"), 0.01, 8000)  # 80 samples
    with pytest.raises(UserError, match="too short"):
        generate.main(base + ["--seed", short, "--seed_offset", "70"])
    for flag, value in (("--dur", "-1"), ("--temperature", "-1"), ("--num_seqs", "0"),
                        ("--top_p", "0"), ("--min_p", "1"), ("--prime", "maybe")):
        with pytest.raises(SystemExit):
            generate.parse_args(base + [flag, value])
    assert not os.path.exists(tmp / "e.wav")


@pytest.mark.parametrize("noise,should_pass", [(None, True), ("exponential", False)])
def test_draws_follow_the_softmax(noise, should_pass):
    """Chi-square test of 40,000 draws from one logits vector at temperature 1.

    Sampling with the wrong noise (-log u, exponential, instead of Gumbel's
    -log(-log u)) must fail the same test."""
    from scipy.stats import chisquare

    from samplernn.sample_level import draw

    logits = np.array([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, 1.5], np.float32)
    draws = 40_000
    kwargs = {} if noise is None else {"noise": lambda u: -tf.math.log(u)}
    classes = draw(tf.constant(np.tile(logits, [draws, 1])), tf.ones([draws]),
                   tf.constant([7, 0], tf.int64), **kwargs).numpy()
    observed = np.bincount(classes, minlength=len(logits))
    probabilities = np.exp(logits.astype(np.float64))
    expected = probabilities / probabilities.sum() * draws
    p_value = chisquare(observed, expected).pvalue
    assert (p_value > 1e-3) == should_pass, (observed, expected.round(), p_value)


class InterruptedAfterFirstLook:
    """An interrupt flag that is clear when first read and set from then on: Ctrl-C
    pressed just as the epoch's audio starts, before any sample is generated."""

    def __init__(self):
        self.reads = 0

    @property
    def requested(self):
        self.reads += 1
        return self.reads > 1


def test_training_audio_cut_before_any_sample_writes_no_file(tmp_path):
    from samplernn.generation import TrainingAudioWriter

    config = tiny_config()
    writer = TrainingAudioWriter(build_model(config), config, str(tmp_path / "gen"), "t",
                                 1, 0.5, [0.75], interrupt=InterruptedAfterFirstLook())
    writer(3, "unused-prefix")
    assert not os.path.exists(tmp_path / "gen") or os.listdir(tmp_path / "gen") == []


# The probabilities of the logits below, likeliest first: 0.403, 0.244, 0.148, 0.090, ...
@pytest.mark.parametrize("top_p,min_p,kept", [
    (1.0, 0.0, 8),         # no truncation: every class
    (1.0, 0.3, 3),         # at least 0.3 x 0.403 = 0.121: three
    (1.0, 0.5, 2),         # at least 0.201: two
    (0.5, 0.0, 2),         # 0.403 < 0.5 <= 0.403 + 0.244: two
    (0.7, 0.0, 3),         # 0.647 < 0.7 <= 0.795: three
    (0.3, 0.0, 1),         # the likeliest alone holds 0.3
    (0.7, 0.5, 2),         # both: the stricter one wins
])
def test_truncated_draws_keep_the_nucleus_and_the_classes_above_min_p(top_p, min_p, kept):
    """Draws with top-p or min-p come only from the classes they keep, in the softmax's
    proportions among them (chi-square over 40,000 draws)."""
    from scipy.stats import chisquare

    from samplernn.sample_level import draw

    logits = np.array([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, 1.5], np.float32)
    probabilities = np.exp(logits.astype(np.float64)) / np.exp(logits.astype(np.float64)).sum()
    order = np.argsort(-probabilities)
    draws = 40_000
    classes = draw(tf.constant(np.tile(logits, [draws, 1])), tf.ones([draws]),
                   tf.constant([7, 0], tf.int64),
                   truncation=tf.constant([top_p, min_p], tf.float32)).numpy()
    observed = np.bincount(classes, minlength=len(logits))
    assert set(np.flatnonzero(observed)) == set(order[:kept].tolist()), observed
    if kept > 1:
        inside = probabilities[order[:kept]]
        p_value = chisquare(observed[order[:kept]], inside / inside.sum() * draws).pvalue
        assert p_value > 1e-3, (observed, p_value)


def test_the_sampler_reads_its_truncation_without_recompiling():
    model = trained_like(build_model(tiny_config()))
    sampler = Sampler(model)
    run = lambda **cut: np.concatenate(list(sampler.generate(2, 200, [1.0], 3, **cut)), 1)  # noqa
    free, cut = run(), run(min_p=0.5)
    assert not np.array_equal(free, cut)
    np.testing.assert_array_equal(free, run())            # set back: the same audio again
    assert len(np.unique(cut)) < len(np.unique(free))     # fewer values survive the cut
    # one trace without a cut, one with: values change without another
    assert sampler._generate_frames.experimental_get_tracing_count() == 2
    with pytest.raises(ValueError, match="top_p"):
        sampler.loop.sample_level.set_truncation(top_p=0.0)


def test_a_run_records_its_prime_and_generate_starts_from_it(trained_run, tmp_path):
    """train.py records excerpts of its training audio (prime.wav); generate.py warms
    each sequence up on one by default, writes none of it, and --prime False starts
    from silence (other audio); --seed replaces the prime."""

    _, _, run_dir = trained_run
    prime_path = os.path.join(run_dir, run_record.PRIME_FILE)
    config = runs.config_for_checkpoint(os.path.join(run_dir, "x"))
    prime = run_record.recorded_prime(os.path.join(run_dir, "x"), config)
    # one excerpt per channel, as long as a demo file (shorter than PRIME_SECONDS)
    info = soundfile.info(prime_path)
    assert prime.shape == (info.channels, info.frames) and info.channels >= 2
    assert 0.3 * 8000 < info.frames <= 0.4 * 8000 and len(np.unique(prime)) > 10
    outputs = {}
    for name, flags in (("primed", []), ("again", []), ("silent", ["--prime", "False"])):
        out = str(tmp_path / f"{name}.wav")
        assert generate.main(["--output_path", out, "--checkpoint_path", run_dir,
                              "--dur", "0.1", "--temperature", "1.0"] + flags) == 0
        outputs[name] = soundfile.read(out)[0]
        assert len(outputs[name]) == 800                 # the prime is not in the file
    np.testing.assert_array_equal(outputs["primed"], outputs["again"])
    assert not np.array_equal(outputs["primed"], outputs["silent"])
