"""Where the hiss comes from: the sample level's distribution along real and generated audio.

    python benchmarks/entropy_study.py --checkpoint RUN_DIR --temperature 0.95 \\
        --real /tmp/study/drascula/held --generated /tmp/study/alive/d \\
        --output benchmarks/learning/entropy_drascula.csv --plot benchmarks/learning/entropy_drascula.png

Each file is fed through the trained model as it is (teacher forcing, from the model's
initial state after one silent top frame), and at every sample the distribution the
sampler would draw from at ``--temperature`` is measured: its entropy in bits, and its
*tail mass*, the probability of the values less likely than ``--min_p`` times the
likeliest one (what min-p sampling leaves out). For a generated file these are the
distributions its samples were drawn from, up to the start (a primed file was warmed
up on an excerpt that the file does not hold). One CSV row per file and 2-s window;
the PNG draws entropy and tail mass over time, real files against generated ones.
"""

import argparse
import csv
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WINDOW_SECONDS = 2.0
CHUNK_SAMPLES = 16000    # samples per forward pass (states carried between them)
COLUMNS = ("kind", "file", "window", "start_seconds", "entropy_bits", "tail_mass",
           "likeliest_probability")


def distribution_measures(model, config, audio: np.ndarray, temperature: float,
                          min_p: float) -> tuple:
    """Per sample of ``audio [samples]``: ``(entropy bits, tail mass, likeliest
    probability)``, each ``[samples]``."""
    import tensorflow as tf

    from samplernn import quantization

    top = config.top_frame_size
    silence = quantization.silence_class(config.q_type, config.q_levels)
    classes = quantization.quantize(audio, config.q_type, config.q_levels).astype(np.int32)
    classes = np.concatenate([np.full(top, silence, np.int32), classes])
    usable = (len(classes) - top) // top * top
    states = model.initial_states(1)
    entropy, tail, likeliest = [], [], []
    for start in range(0, usable, CHUNK_SAMPLES):
        width = min(CHUNK_SAMPLES, usable - start)
        logits, states = model(tf.constant(classes[None, start:start + top + width]), states)
        log_p = tf.nn.log_softmax(tf.cast(logits[0], tf.float32) / temperature).numpy()
        p = np.exp(log_p)
        entropy.append(-np.sum(p * log_p, axis=1) / np.log(2))
        top_p = p.max(axis=1, keepdims=True)
        tail.append(np.sum(np.where(p < min_p * top_p, p, 0.0), axis=1))
        likeliest.append(top_p[:, 0])
    return tuple(np.concatenate(parts) for parts in (entropy, tail, likeliest))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a run directory or checkpoint")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--min_p", type=float, default=0.1,
                        help="the tail measured: values under this times the likeliest")
    parser.add_argument("--real", required=True, help="a folder of the corpus's audio")
    parser.add_argument("--generated", required=True, help="a folder of generated audio")
    parser.add_argument("--max_files", type=int, default=4, help="of each kind")
    parser.add_argument("--output", required=True, help="CSV, one row per file and window")
    parser.add_argument("--plot", help="PNG of entropy and tail mass over time")
    args = parser.parse_args()

    from samplernn import audio as audio_io
    from samplernn import checkpoints, runs

    opened = runs.open_checkpoint(args.checkpoint)
    config = opened.config
    model = checkpoints.load_model(opened.prefix, config)
    rate = config.sample_rate
    per_window = int(WINDOW_SECONDS * rate)
    rows, curves = [], {}
    for kind, folder in (("real", args.real), ("generated", args.generated)):
        for path in sorted(glob.glob(os.path.join(folder, "*.wav")))[:args.max_files]:
            audio = audio_io.load_audio(path, rate)
            entropy, tail, likeliest = distribution_measures(model, config, audio,
                                                             args.temperature, args.min_p)
            curves[(kind, os.path.basename(path))] = (entropy, tail)
            for w in range(len(entropy) // per_window):
                span = slice(w * per_window, (w + 1) * per_window)
                rows.append({"kind": kind, "file": os.path.basename(path), "window": w,
                             "start_seconds": w * WINDOW_SECONDS,
                             "entropy_bits": f"{np.mean(entropy[span]):.4f}",
                             "tail_mass": f"{np.mean(tail[span]):.4f}",
                             "likeliest_probability": f"{np.mean(likeliest[span]):.4f}"})
            print(f"{kind:>9} {os.path.basename(path)[-40:]:>40}: entropy "
                  f"{np.mean(entropy):.2f} bits, tail mass {np.mean(tail):.3f}", flush=True)
    with open(args.output, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
        smooth = int(0.25 * rate)   # a quarter-second moving mean
        for (kind, name), (entropy, tail) in curves.items():
            style = {"color": "tab:blue" if kind == "real" else "tab:red", "alpha": 0.6,
                     "linewidth": 0.8}
            for axis, values in zip(axes, (entropy, tail)):
                moving = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
                axis.plot(np.arange(len(moving)) / rate, moving, **style)
        axes[0].set_ylabel(f"entropy at T={args.temperature:g} (bits)")
        axes[1].set_ylabel(f"mass under {args.min_p:g} x likeliest")
        axes[1].set_xlabel("seconds (blue: corpus files, red: generated)")
        figure.tight_layout()
        figure.savefig(args.plot, dpi=100)
        print(f"Wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
