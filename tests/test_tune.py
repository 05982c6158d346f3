import os
import socket
import subprocess
import sys

import pytest

import tune
from samplernn.config import load_config, save_config
from samplernn.errors import UserError
from conftest import REPO_ROOT, tiny_config

PROCESS_TIMEOUT_S = 240


@pytest.fixture
def tune_args(tmp_path, demo_dir):
    base = str(tmp_path / "base.config.json")
    save_config(tiny_config(), base)
    return ["--data_dir", demo_dir, "--config_file", base, "--num_epochs", "1",
            "--directory", str(tmp_path / "tuning"), "--output_file",
            str(tmp_path / "best.config.json"), "--batch_size", "4"]


@pytest.mark.slow
def test_random_search_writes_a_config_train_accepts(tune_args, tmp_path, capsys):
    assert tune.main(tune_args + ["--type", "random_search", "--max_trials", "2",
                                  "--dim", "16", "32", "--rnn_type", "gru", "lstm",
                                  "--learning_rate", "0.003"]) == 0
    best = load_config(str(tmp_path / "best.config.json"))
    assert best.dim in (16, 32) and best.rnn_type in ("gru", "lstm")
    assert best.frame_sizes == (4, 16) and best.seq_len == 64  # untuned keys kept
    out = capsys.readouterr().out
    assert "Results summary" in out and "--learning_rate 0.003" in out
    trials = [d for d in os.listdir(tmp_path / "tuning" / "samplernn") if d.startswith("trial_")]
    assert len(trials) == 2


def test_invalid_choices_are_rejected_before_training(tune_args, tmp_path):
    with pytest.raises(UserError, match=r"--frame_sizes 4,16 with --seq_len 40: 'seq_len' "
                                        r"\(40\) must be divisible by the top frame size"):
        tune.main(tune_args + ["--frame_sizes", "4,16", "--seq_len", "64", "40"])
    # Valid pairs are not judged against the base config's frame sizes [4, 16].
    from samplernn import search_space
    search_space.SearchSpace({"frame_sizes": [[6, 24]], "seq_len": [72]}).validate(tiny_config())
    with pytest.raises(UserError, match="'rnn_type' must be one of gru, lstm"):
        tune.main(tune_args + ["--rnn_type", "gru", "rnn"])
    with pytest.raises(UserError, match="each frame size must divide the next"):
        tune.main(tune_args + ["--frame_sizes", "4,16", "3,16"])
    assert not os.path.exists(tmp_path / "tuning")  # nothing was trained
    with pytest.raises(SystemExit):
        tune.parse_args(tune_args + ["--frame_sizes", "4;16"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_distributed_search_with_a_chief_and_two_workers(tune_args, tmp_path):
    port = str(free_port())
    argv = [sys.executable, os.path.join(REPO_ROOT, "tune.py"), *tune_args,
            "--max_trials", "2", "--dim", "16", "32"]
    processes = {}
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            env = dict(os.environ, KERASTUNER_TUNER_ID=tuner_id,
                       KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=port)
            processes[tuner_id] = subprocess.Popen(argv, env=env, cwd=str(tmp_path),
                                                   stdout=subprocess.PIPE,
                                                   stderr=subprocess.STDOUT, text=True)
        outputs = {name: p.communicate(timeout=PROCESS_TIMEOUT_S)[0]
                   for name, p in processes.items()}
    finally:
        for p in processes.values():  # only the processes this test started
            if p.poll() is None:
                p.kill()
                p.wait()
    for name, p in processes.items():
        assert p.returncode == 0, f"{name} failed:\n{outputs[name][-2000:]}"
    assert "Best config written to" in outputs["chief"]
    assert "Best config written" not in outputs["tuner0"] + outputs["tuner1"]
    assert load_config(str(tmp_path / "best.config.json")).dim in (16, 32)


def test_one_bayesian_trial_in_process_writes_the_best_config(tmp_path, capsys):
    """The fast tier's whole search: one trial of one epoch on a short corpus."""
    from samplernn.demo import write_demo_corpus

    corpus = str(tmp_path / "short")
    write_demo_corpus(corpus, num_files=4, seconds=0.25, sample_rate=8000)
    base = str(tmp_path / "base.config.json")
    save_config(tiny_config(), base)
    best = str(tmp_path / "best.config.json")
    assert tune.main(["--data_dir", corpus, "--config_file", base, "--num_epochs", "1",
                      "--directory", str(tmp_path / "tuning"), "--output_file", best,
                      "--batch_size", "2", "--type", "bayesian", "--max_trials", "1",
                      "--dim", "16"]) == 0
    assert load_config(best).dim == 16
    assert f"--config_file {best} --learning_rate 0.001 --momentum 0.9 --batch_size 2" \
        in capsys.readouterr().out


def test_each_tuner_type_is_made_with_the_objectives_direction(tmp_path):
    import keras_tuner

    from samplernn import search_space, tuning

    hypermodel = tuning.SampleRNNHyperModel(tiny_config(), search_space.SearchSpace({}),
                                            str(tmp_path), {}, 3, None, 1, "val_accuracy")
    kinds = {"random_search": keras_tuner.RandomSearch,
             "bayesian": keras_tuner.BayesianOptimization, "hyperband": keras_tuner.Hyperband}
    assert set(kinds) == set(search_space.TUNER_TYPES)
    for kind, tuner_class in kinds.items():
        tuner = tuning.make_tuner(kind, hypermodel, "val_accuracy", 2, 3, str(tmp_path / kind),
                                  "p")
        assert isinstance(tuner, tuner_class)
        assert tuner.oracle.objective.direction == "max"
