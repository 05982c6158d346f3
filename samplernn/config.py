"""The model configuration: one validated dataclass, loaded from and saved to JSON.

The same JSON file is written beside every checkpoint (``model.config.json``),
so generation and evaluation never need a hand-matched config.

Keys and defaults (documented in README.md):

    seq_len         1024     samples per truncated-BPTT window
    frame_sizes     [16, 64] frame size of each frame-level tier, ascending;
                             one entry per tier ([16] = 2-tier model,
                             [16, 64] = 3-tier, [4, 16, 64] = 4-tier)
    dim             1024     width of the RNNs and of the sample-level MLP
    rnn_type        "gru"    "gru" or "lstm"
    num_rnn_layers  4        depth of the RNN stack in each frame-level tier
    q_type          "mu-law" "mu-law", "linear" or "a-law"
    q_levels        256      quantization levels (fixed at 256 for mu-law)
    emb_size        256      width of the sample embedding in the bottom tier
    skip_conn       false    Graves-style skip connections in the RNN stacks
    learn_h0        true     learn the initial RNN state used at every reset
    weight_norm     true     weight normalization on every linear map
    sample_rate     22050    sample rate of the training audio, in Hz
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import warnings
from typing import Any

from samplernn.errors import UserError
from samplernn.fileio import atomic_write_text

RNN_TYPES = ("gru", "lstm")
Q_TYPES = ("mu-law", "linear", "a-law")
MU_LAW_Q_LEVELS = 256
CONFIG_SUFFIX = ".config.json"
# Name of the config file stored beside every checkpoint.
CHECKPOINT_CONFIG_NAME = "model" + CONFIG_SUFFIX


class ConfigError(UserError):
    """A config file or value that breaks one of the rules below."""


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    seq_len: int = 1024
    frame_sizes: tuple = (16, 64)
    dim: int = 1024
    rnn_type: str = "gru"
    num_rnn_layers: int = 4
    q_type: str = "mu-law"
    q_levels: int = 256
    emb_size: int = 256
    skip_conn: bool = False
    learn_h0: bool = True
    weight_norm: bool = True
    sample_rate: int = 22050

    # ----------------------------------------------------------------- derived
    @property
    def top_frame_size(self) -> int:
        """Frame size of the top tier: the overlap each training window needs."""
        return self.frame_sizes[-1]

    @property
    def sample_frame_size(self) -> int:
        """How many previous samples the sample-level MLP sees (smallest frame)."""
        return self.frame_sizes[0]

    @property
    def num_tiers(self) -> int:
        """Frame-level tiers plus the sample-level MLP."""
        return len(self.frame_sizes) + 1

    # ------------------------------------------------------------- conversion
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["frame_sizes"] = list(self.frame_sizes)
        return d

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> "ModelConfig":
        """Build and validate a config; ``source`` names it in error messages."""
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object of key/value pairs, "
                              f"got {type(values).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"{source}: unknown key '{key}'{hint}; "
                                  f"valid keys are {', '.join(known)}")
        values = dict(values)
        if isinstance(values.get("frame_sizes"), list):
            values["frame_sizes"] = tuple(values["frame_sizes"])
        if isinstance(values.get("rnn_type"), str):
            values["rnn_type"] = values["rnn_type"].lower()
        if isinstance(values.get("q_type"), str):
            values["q_type"] = values["q_type"].lower()
        config = cls(**values)
        return config.validated(source)

    def replace(self, source: str = "config", **changes) -> "ModelConfig":
        """A copy with some keys changed, validated again."""
        return ModelConfig.from_dict({**self.to_dict(), **changes}, source)

    def differences(self, saved: "ModelConfig") -> list:
        """``["dim: 128 in the checkpoint, 64 given now", ...]``: every key on which
        this config (the one given now) differs from ``saved`` (a checkpoint's)."""
        given, theirs = self.to_dict(), saved.to_dict()
        return [f"{k}: {theirs[k]} in the checkpoint, {given[k]} given now"
                for k in given if given[k] != theirs[k]]

    # ------------------------------------------------------------- validation
    def validated(self, source: str = "config") -> "ModelConfig":
        """Check every rule; return the config (q_levels fixed for mu-law)."""

        def fail(message):
            raise ConfigError(f"{source}: {message}")

        for name in ("seq_len", "dim", "num_rnn_layers", "q_levels", "emb_size",
                     "sample_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                fail(f"'{name}' must be a positive integer, got {value!r}")
        for name in ("skip_conn", "learn_h0", "weight_norm"):
            if not isinstance(getattr(self, name), bool):
                fail(f"'{name}' must be true or false, got {getattr(self, name)!r}")

        sizes = self.frame_sizes
        if not isinstance(sizes, (tuple, list)) or len(sizes) == 0:
            fail(f"'frame_sizes' must be a non-empty list of integers, got {sizes!r}")
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                fail(f"'frame_sizes' must hold positive integers, got {list(sizes)}")
        for lower, upper in zip(sizes, sizes[1:]):
            if upper <= lower:
                fail(f"'frame_sizes' must be in ascending order, got {list(sizes)}")
            if upper % lower:
                fail(f"each frame size must divide the next one, but {lower} does "
                     f"not divide {upper} in {list(sizes)}")
        if self.seq_len % sizes[-1]:
            fail(f"'seq_len' ({self.seq_len}) must be divisible by the top frame "
                 f"size ({sizes[-1]})")

        if self.rnn_type not in RNN_TYPES:
            fail(f"'rnn_type' must be one of {', '.join(RNN_TYPES)}, got {self.rnn_type!r}")
        if self.q_type not in Q_TYPES:
            fail(f"'q_type' must be one of {', '.join(Q_TYPES)}, got {self.q_type!r}")
        if self.q_levels < 2:
            fail(f"'q_levels' must be at least 2, got {self.q_levels}")
        if self.q_type == "mu-law" and self.q_levels != MU_LAW_Q_LEVELS:
            warnings.warn(f"{source}: mu-law quantization uses {MU_LAW_Q_LEVELS} levels; "
                          f"ignoring q_levels={self.q_levels}", stacklevel=3)
            return dataclasses.replace(self, q_levels=MU_LAW_Q_LEVELS,
                                       frame_sizes=tuple(sizes))
        return dataclasses.replace(self, frame_sizes=tuple(sizes))


# --------------------------------------------------------------------- JSON I/O
def load_config(path: str, **overrides: Any) -> ModelConfig:
    """Read and validate a JSON config file; ``overrides`` replace keys in it."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path} does not exist; pass --config_file with "
                          f"the path to a *{CONFIG_SUFFIX} file")
    if not path.endswith(CONFIG_SUFFIX):
        warnings.warn(f"config file {path} does not follow the *{CONFIG_SUFFIX} naming "
                      f"pattern", stacklevel=2)
    with open(path, encoding="utf-8-sig") as f:   # -sig: a byte-order mark is fine
        text = f.read()
    try:
        values = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {path} is not valid JSON: {e.msg} "
                          f"(line {e.lineno}, column {e.colno})") from None
    if isinstance(values, dict):
        values.update({k: v for k, v in overrides.items() if v is not None})
    return ModelConfig.from_dict(values, source=f"config file {path}")


def save_config(config: ModelConfig, path: str) -> None:
    """Write the config as pretty JSON, atomically."""
    atomic_write_text(path, json.dumps(config.to_dict(), indent=2) + "\n")
