import numpy as np
import pytest

from samplernn import quantization as q

CASES = [("mu-law", 256), ("linear", 256), ("a-law", 256), ("linear", 1024), ("a-law", 64)]


@pytest.mark.parametrize("q_type,q_levels", CASES)
def test_numpy_and_tf_agree_exactly(q_type, q_levels):
    rng = np.random.default_rng(0)
    audio = np.concatenate([rng.uniform(-1.5, 1.5, 50000),
                            np.linspace(-1, 1, 20001)]).astype(np.float32)
    classes = q.quantize(audio, q_type, q_levels)
    np.testing.assert_array_equal(classes, q.quantize_tf(audio, q_type, q_levels).numpy())
    np.testing.assert_array_equal(q.dequantize(classes, q_type, q_levels),
                                  q.dequantize_tf(classes, q_type, q_levels).numpy())


@pytest.mark.parametrize("q_type,q_levels", CASES)
def test_range_and_clipping(q_type, q_levels):
    audio = np.array([-7.0, -1.0, 1.0, 3.0], np.float32)
    classes = q.quantize(audio, q_type, q_levels)
    assert classes.tolist() == [0, 0, q_levels - 1, q_levels - 1]
    full = q.quantize(np.linspace(-1, 1, 100001), q_type, q_levels)
    assert set(np.unique(full)) == set(range(q_levels))  # every class is reachable
    assert np.all(np.diff(full) >= 0)  # monotonic


@pytest.mark.parametrize("q_type,q_levels", CASES)
def test_round_trip_is_identity_on_levels(q_type, q_levels):
    levels = np.arange(q_levels)
    np.testing.assert_array_equal(q.quantize(q.dequantize(levels, q_type, q_levels),
                                             q_type, q_levels), levels)


def test_linear_error_bound_is_half_a_step():
    audio = np.random.default_rng(1).uniform(-1, 1, 100000).astype(np.float32)
    error = np.abs(q.dequantize(q.quantize(audio, "linear", 256), "linear", 256) - audio)
    assert error.max() <= 1.0 / 255 + 1e-6


@pytest.mark.parametrize("q_type", ["mu-law", "a-law"])
def test_companding_error_is_relative(q_type):
    """Companded quantizers are fine near zero and coarse near full scale."""
    small = np.float32(0.001)
    error_small = abs(q.dequantize(q.quantize(small, q_type, 256), q_type, 256) - small)
    assert error_small < 0.0003  # linear 256 would be off by up to 0.0039
    audio = np.random.default_rng(2).uniform(-1, 1, 100000).astype(np.float32)
    error = np.abs(q.dequantize(q.quantize(audio, q_type, 256), q_type, 256) - audio)
    assert error.max() < 0.03 and error.max() > 1.0 / 255


def test_mu_law_matches_the_textbook_formula():
    audio = np.random.default_rng(3).uniform(-1, 1, 10000)
    mu = 255.0
    compressed = np.sign(audio) * np.log1p(mu * np.abs(audio)) / np.log1p(mu)
    expected = np.floor((compressed + 1) / 2 * mu + 0.5).astype(int)
    got = q.quantize(audio.astype(np.float32), "mu-law", 256)
    assert np.mean(got == expected) > 0.999  # float32 vs float64 at exact boundaries
    assert np.max(np.abs(got - expected)) <= 1


def test_a_law_matches_g711_shape():
    # A-law: linear segment below 1/A, logarithmic above; symmetric.
    levels = q.dequantize(np.arange(256), "a-law", 256)
    np.testing.assert_allclose(levels, -levels[::-1], atol=1e-7)
    assert levels[0] == pytest.approx(-1.0) and levels[-1] == pytest.approx(1.0)
    steps = np.diff(levels[128:])
    assert np.allclose(steps[:10], steps[0], rtol=1e-3)  # uniform near zero
    assert steps[-1] > 10 * steps[0]                      # coarse at full scale


def test_linear_does_not_normalize_per_file():
    quiet = np.full(100, 0.1, np.float32)
    classes = q.quantize(quiet, "linear", 256)
    assert np.allclose(q.dequantize(classes, "linear", 256), 0.1, atol=1 / 255)
    assert q.silence_class("linear", 256) == 128
