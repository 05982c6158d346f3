"""export.py: a SavedModel of the sampler that TensorFlow alone can run, and that
generates what generate.py generates."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

import export
import generate
from samplernn import quantization
from samplernn.errors import UserError
from samplernn.model import build_model
from conftest import save_untrained, tiny_config, write_tone

PROCESS_TIMEOUT_S = 300

# Runs in a fresh interpreter that imports only TensorFlow and NumPy.
CLIENT = r"""
import json, sys
import numpy as np
import tensorflow as tf

model = tf.saved_model.load(sys.argv[1])
seed, temperature, half = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
model.reset(tf.constant(1), tf.constant(seed, tf.int64))
first = model.generate(tf.constant(half), tf.constant([temperature]))["audio"].numpy()
second = model.generate(tf.constant(half), tf.constant([temperature]))["audio"].numpy()
signature = model.signatures["reset"]
signature(batch_size=tf.constant(1), seed=tf.constant(seed, tf.int64))
whole = model.signatures["generate"](num_samples=tf.constant(2 * half),
                                     temperature=tf.constant([temperature]))["audio"].numpy()
model.reset(tf.constant(2), tf.constant(seed, tf.int64))
primed = model.prime(tf.constant(np.zeros((2, 40), np.float32)))["samples_used"].numpy()
pair = model.generate(tf.constant(10), tf.constant([1.0, 0.5]))["audio"].numpy()
np.save(sys.argv[5], np.concatenate([first, second], axis=1)[0])
# prime() starts from the initial state whatever came before, with the audio's batch.
model.generate(tf.constant(37), tf.constant([1.0, 1.0]))
seed_audio = np.load(sys.argv[6])
model.reset(tf.constant(3), tf.constant(seed, tf.int64))
model.generate(tf.constant(50), tf.constant([1.0, 1.0, 1.0]))
model.prime(tf.constant(seed_audio[None]))
np.save(sys.argv[7], model.generate(tf.constant(half), tf.constant([temperature]))["audio"]
        .numpy()[0])
model.truncate(tf.constant(0.9), tf.constant(0.05))   # nucleus and min-p, as generate.py
model.reset(tf.constant(1), tf.constant(seed, tf.int64))
np.save(sys.argv[8], model.generate(tf.constant(half), tf.constant([temperature]))["audio"]
        .numpy()[0])
try:
    model.generate(tf.constant(5), tf.constant([1.0, 1.0]))
    mismatch = ""
except tf.errors.InvalidArgumentError as e:
    mismatch = e.message
print(json.dumps({"split_equals_whole": bool(np.array_equal(np.concatenate([first, second], 1),
                                                            whole)),
                  "sample_rate": int(model.sample_rate.numpy()),
                  "dim": json.loads(model.config_json.numpy())["dim"],
                  "version": model.package_version.numpy().decode(),
                  "primed": int(primed), "pair_shape": list(pair.shape),
                  "in_range": bool(np.all(np.abs(whole) <= 1.0)), "mismatch": mismatch,
                  "modules": sorted(m for m in sys.modules if m.startswith("samplernn"))}))
"""


@pytest.fixture
def run_dir(tmp_path):
    config = tiny_config(rnn_type="lstm", num_rnn_layers=2, skip_conn=True)
    model = build_model(config)
    rng = np.random.default_rng(0)
    for v in model.trainable_variables:   # away from the initial values, so all of them count
        v.assign(v.numpy() + 0.1 * rng.standard_normal(v.shape).astype(np.float32))
    return save_untrained(tmp_path / "logdir", config, "e", epoch=3, model=model)


@pytest.mark.slow
def test_exported_model_generates_what_generate_py_does(run_dir, tmp_path):
    exported = str(tmp_path / "exported")
    assert export.main(["--checkpoint_path", run_dir, "--output_dir", exported]) == 0
    metadata = json.load(open(os.path.join(exported, "samplernn.json")))
    assert metadata["sample_rate"] == 8000 and metadata["config"]["rnn_type"] == "lstm"

    half = 1000   # not a whole number of top frames (16): exercises the carried samples
    reference = str(tmp_path / "reference.wav")
    generate.main(["--output_path", reference, "--checkpoint_path", run_dir,
                   "--dur", str(2 * half / 8000), "--random_seed", "5", "--temperature", "0.9"])
    # A seed of real, non-silent audio, as generate.py reads it back from the WAV file.
    seed_wav = write_tone(str(tmp_path / "seed.wav"), 0.05, 8000, frequency=330.0)
    np.save(str(tmp_path / "seed.npy"), soundfile.read(seed_wav, dtype="float32")[0])
    seeded = str(tmp_path / "seeded.wav")
    generate.main(["--output_path", seeded, "--checkpoint_path", run_dir, "--seed", seed_wav,
                   "--dur", str(half / 8000), "--random_seed", "5", "--temperature", "0.9"])
    result = subprocess.run([sys.executable, "-c", CLIENT, exported, "5", "0.9", str(half),
                             str(tmp_path / "exported.npy"), str(tmp_path / "seed.npy"),
                             str(tmp_path / "primed.npy"), str(tmp_path / "cut.npy")],
                            cwd=str(tmp_path),
                            capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["modules"] == []            # this project was not imported
    assert report["split_equals_whole"] and report["in_range"]
    assert (report["sample_rate"], report["dim"]) == (8000, 32)
    assert report["version"] and report["primed"] == 32 and report["pair_shape"] == [2, 10]

    # The same audio: identical classes once quantized (the 16-bit WAV rounds the
    # dequantized values, which moves none of them to another class).
    ours = np.load(str(tmp_path / "exported.npy"))
    theirs, _ = soundfile.read(reference, dtype="float32")
    assert len(ours) == len(theirs) == 2 * half
    np.testing.assert_array_equal(quantization.quantize(ours, "mu-law", 256),
                                  quantization.quantize(theirs, "mu-law", 256))
    # prime() on the seed, after other generation, continues it as generate.py --seed does.
    primed = np.load(str(tmp_path / "primed.npy"))
    from_seed, _ = soundfile.read(seeded, dtype="float32")
    np.testing.assert_array_equal(quantization.quantize(primed, "mu-law", 256),
                                  quantization.quantize(from_seed, "mu-law", 256))
    assert "one temperature per sequence" in report["mismatch"]
    # truncate() cuts the draws' tails as generate.py --top_p --min_p does.
    cut_reference = str(tmp_path / "cut.wav")
    generate.main(["--output_path", cut_reference, "--checkpoint_path", run_dir,
                   "--dur", str(half / 8000), "--random_seed", "5", "--temperature", "0.9",
                   "--top_p", "0.9", "--min_p", "0.05"])
    cut = quantization.quantize(np.load(str(tmp_path / "cut.npy")), "mu-law", 256)
    np.testing.assert_array_equal(cut, quantization.quantize(
        soundfile.read(cut_reference, dtype="float32")[0], "mu-law", 256))
    assert not np.array_equal(cut, quantization.quantize(ours[:half], "mu-law", 256))


def test_export_refuses_to_overwrite(run_dir, tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "file").write_text("x")
    with pytest.raises(UserError, match="already exists"):
        export.main(["--checkpoint_path", run_dir, "--output_dir", str(target)])
    assert os.listdir(target) == ["file"]
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


def test_export_script_in_process_and_the_loaded_signatures(run_dir, tmp_path, caplog):
    """export.py's main in this process, then its SavedModel loaded here (the slow test
    above runs it in a process with TensorFlow alone): prime starts from h0 whatever
    came before, with its own batch; a wrong number of temperatures is refused."""
    import tensorflow as tf

    exported = str(tmp_path / "exported" / "m")
    with caplog.at_level("INFO", logger="samplernn"):
        assert export.main(["--checkpoint_path", run_dir, "--output_dir", exported]) == 0
    assert f"to {exported}" in caplog.text and "3-tier LSTM, dim 32, 8000 Hz" in caplog.text
    assert json.load(open(os.path.join(exported, "samplernn.json")))["sample_rate"] == 8000
    assert not [n for n in os.listdir(tmp_path / "exported") if n.startswith(".tmp-")]
    module = tf.saved_model.load(exported)
    seed_audio = tf.constant(np.sin(np.arange(2, 50) / 3.0)[None].astype(np.float32) * 0.5)
    module.reset(tf.constant(1), tf.constant(7, tf.int64))
    assert int(module.prime(seed_audio)["samples_used"]) == 48
    first = module.generate(tf.constant(20), tf.constant([1.0]))["audio"].numpy()
    module.reset(tf.constant(2), tf.constant(7, tf.int64))
    module.generate(tf.constant(40), tf.constant([1.0, 1.0]))
    assert int(module.prime(seed_audio)["samples_used"]) == 48   # batch 1 again
    again = module.generate(tf.constant(20), tf.constant([1.0]))["audio"].numpy()
    np.testing.assert_array_equal(first, again)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one temperature per sequence"):
        module.generate(tf.constant(5), tf.constant([1.0, 1.0]))
