import json
import warnings

import pytest

from samplernn.config import ConfigError, ModelConfig, load_config, save_config
from conftest import REPO_ROOT


def write_json(tmp_path, values, name="x.config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(values))
    return str(path)


def test_defaults_match_documentation():
    c = ModelConfig()
    assert (c.seq_len, c.frame_sizes, c.dim, c.rnn_type, c.num_rnn_layers) == \
        (1024, (16, 64), 1024, "gru", 4)
    assert (c.q_type, c.q_levels, c.emb_size, c.skip_conn) == ("mu-law", 256, 256, False)
    assert c.learn_h0 and c.weight_norm


def test_shipped_default_config_is_the_dataclass_default():
    assert load_config(f"{REPO_ROOT}/default.config.json") == ModelConfig()


def test_shipped_small_configs_load_with_every_key_given():
    for name in ("demo", "notes"):
        path = f"{REPO_ROOT}/{name}.config.json"
        with open(path) as f:
            assert set(json.load(f)) == set(ModelConfig().to_dict()), name
        assert load_config(path).sample_rate == 16000


@pytest.mark.parametrize("sizes,tiers", [([16], 2), ([16, 64], 3), ([4, 16, 64], 4)])
def test_frame_sizes_of_any_length(sizes, tiers):
    c = ModelConfig.from_dict({"frame_sizes": sizes, "seq_len": 256})
    assert c.num_tiers == tiers and c.top_frame_size == sizes[-1]


@pytest.mark.parametrize("values,message", [
    ({"frame_sizes": [64, 16]}, "ascending"),
    ({"frame_sizes": [16, 40]}, "16 does not divide 40"),
    ({"frame_sizes": []}, "non-empty"),
    ({"frame_sizes": [0, 16]}, "positive integers"),
    ({"seq_len": 1000}, "divisible by the top frame size (64)"),
    ({"rnn_type": "rnn"}, "'rnn_type' must be one of gru, lstm"),
    ({"q_type": "log"}, "'q_type' must be one of mu-law, linear, a-law"),
    ({"dim": 0}, "'dim' must be a positive integer"),
    ({"dim": 12.5}, "'dim' must be a positive integer"),
    ({"num_rnn_layers": "4"}, "'num_rnn_layers' must be a positive integer"),
    ({"skip_conn": "yes"}, "'skip_conn' must be true or false"),
    ({"num_rnn_layer": 2}, "unknown key 'num_rnn_layer' (did you mean 'num_rnn_layers'?)"),
    ({"q_type": "linear", "q_levels": 1}, "'q_levels' must be at least 2"),
])
def test_each_broken_rule_is_rejected_with_its_message(tmp_path, values, message):
    path = write_json(tmp_path, values)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)
    assert path in str(error.value)
    assert "\n" not in str(error.value)


def test_invalid_json_names_line_and_column(tmp_path):
    path = tmp_path / "bad.config.json"
    path.write_text('{\n  "dim": 64,\n  "seq_len" 512\n}')
    with pytest.raises(ConfigError, match=r"not valid JSON: .*\(line 3, column 13\)"):
        load_config(str(path))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.config.json"))


def test_mu_law_fixes_q_levels_at_256(tmp_path):
    with pytest.warns(UserWarning, match="mu-law"):
        c = load_config(write_json(tmp_path, {"q_levels": 1024}))
    assert c.q_levels == 256
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_config(write_json(tmp_path, {"q_type": "linear",
                                                 "q_levels": 1024})).q_levels == 1024


def test_save_load_round_trip_and_overrides(tmp_path):
    c = ModelConfig.from_dict({"frame_sizes": [4, 16, 64], "dim": 48, "rnn_type": "LSTM"})
    assert c.rnn_type == "lstm"
    path = str(tmp_path / "model.config.json")
    save_config(c, path)
    assert load_config(path) == c
    assert load_config(path, sample_rate=16000).sample_rate == 16000
    assert c.differences(c.replace(dim=64)) == ["dim: 64 in the checkpoint, 48 given now"]
