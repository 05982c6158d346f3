"""Plant known faults, one at a time, in a copy of the project and check that the
tests meant to catch each one fail.

    python tests/plant_faults.py                 # every fault in FAULTS
    python tests/plant_faults.py resume-no-restore lock-ignored   # some, by name
    python tests/plant_faults.py --list

Each fault replaces one exact piece of code (found exactly once, or the fault
is reported as stale) in a fresh copy of the working tree (tracked and
untracked files, as git lists them), then runs the named tests there. A fault
is *caught* when those tests fail. The table printed at the end is the one in
tests/README.md. Add a row here whenever a test is written to catch a fault.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    file: str          # relative to the project root
    original: str      # code that must occur exactly once
    planted: str       # what replaces it
    tests: tuple       # pytest node ids that must fail


FAULTS = [
    Fault("resume-no-restore", "train.py",
          "        checkpoints.restore(checkpoint, resume_prefix)\n",
          "        pass\n",
          ("tests/test_precision.py::test_train_py_resumes_under_another_precision",)),
    Fault("resume-point-none", "samplernn/resuming.py",
          "    if not resume:\n        return None\n",
          "    return None\n",
          ("tests/test_precision.py::test_train_py_resumes_under_another_precision",)),
    Fault("half-policy-stays-float32", "samplernn/precision.py",
          "    keras.mixed_precision.set_global_policy(policy)\n",
          "    keras.mixed_precision.set_global_policy('float32')\n",
          ("tests/test_precision.py::test_train_py_resumes_under_another_precision",)),
    Fault("loss-scale-wrapper-checkpointed", "samplernn/checkpoints.py",
          '        parts["optimizer"] = inner_optimizer(optimizer)\n',
          '        parts["optimizer"] = optimizer\n',
          ("tests/test_precision.py::test_any_precision_resumes_any_other",)),
    Fault("legacy-float16-layout-unread", "samplernn/checkpoints.py",
          "    if optimizer is not None and _LEGACY_FLOAT16_KEY in stored:\n",
          "    if False:\n",
          ("tests/test_precision.py::test_a_float16_checkpoint_of_an_earlier_release_still_"
           "resumes",)),
    Fault("schedule-counts-optimizer-steps", "samplernn/training.py",
          "    global_step = int(progress.global_step)\n",
          "    global_step = int(trainer.optimizer.iterations.numpy())\n",
          ("tests/test_precision.py::test_skipped_float16_steps_still_move_the_schedule",)),
    Fault("input-projection-ignored", "samplernn/layers.py",
          "        self.project_inputs_ahead, self.use_cudnn = project_inputs_ahead, use_cudnn\n",
          "        self.project_inputs_ahead, self.use_cudnn = True, use_cudnn\n",
          ("tests/test_model.py::test_input_projection_is_chosen_per_layer",)),
    Fault("quiet-tensorflow-deleted", "samplernn/cli.py",
          '    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")\n'
          '    if "tensorflow" in sys.modules or os.environ.get("SAMPLERNN_TF_LOGS"):\n',
          "    return\n    if True:\n",
          ("tests/test_cli.py::test_quiet_tensorflow_hides_tensorflows_start_up_messages",)),
    Fault("finished-run-decodes-corpus-first", "train.py",
          "    if resume_prefix and finished(args, resume_prefix):\n        return 0\n"
          "    corpus = load_corpus(",
          "    corpus = load_corpus(",
          ("tests/test_train.py::test_a_finished_run_says_so_before_reading_the_corpus",)),
    Fault("no-id-lock", "train.py",
          "    with IdLock(os.path.join(args.logdir_root, args.id), args.id):\n",
          "    if True:\n",
          ("tests/test_train.py::test_a_second_train_py_of_the_same_id_is_refused",)),
    Fault("runs-without-checkpoint-kept", "samplernn/runs.py",
          "            shutil.rmtree(run_dir, ignore_errors=True)\n            removed.append",
          "            removed.append",
          ("tests/test_train.py::test_a_run_killed_before_its_first_checkpoint_is_removed",)),
    Fault("death-by-signal-at-exit", "samplernn/cli.py",
          "    exit_process(status or 0)\n",
          "    sys.exit(status)\n",
          ("tests/test_cli.py::test_a_signal_while_the_process_exits_gives_a_status_not_death"
           "_by_signal",)),
    Fault("playback-stop-not-abort", "samplernn/playback.py",
          "                self._stream.abort()\n",
          "                self._stream.stop()\n",
          ("tests/test_streaming.py::test_closing_playback_on_a_stalled_device_gives_up_in_"
           "bounded_time",)),
    Fault("sweep-ignores-host", "samplernn/fileio.py",
          '    if match.group("host") == host_name():\n',
          "    if True:\n",
          ("tests/test_first_minute.py::test_stale_temporaries_of_a_killed_process_are_swept_"
           "at_start",)),
    Fault("budget-ignored-mid-epoch", "samplernn/training.py",
          "        if interrupt.requested or budget.spent():\n",
          "        if interrupt.requested:\n",
          ("tests/test_schedule.py::test_max_minutes_stops_mid_epoch_and_resumes_the_schedule",)),
    Fault("linear-schedule-is-constant", "samplernn/schedule.py",
          '            return self.floor + (1.0 - self.floor) * (1.0 - fraction)\n',
          '            return 1.0\n',
          ("tests/test_schedule.py::test_linear_and_cosine_span_the_planned_run",)),
    Fault("empty-audio-on-interrupt", "samplernn/generation.py",
          "        if interrupt.requested and not result.written:   # nothing to keep\n",
          "        if False:\n",
          ("tests/test_generation.py::test_training_audio_cut_before_any_sample_writes_no_file",)),
    Fault("multi-worker-chief-writes-nothing", "samplernn/distribute.py",
          '    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief\n',
          '    return False\n',
          ("tests/test_distribute.py::test_two_workers_on_loopback_train_from_scratch_and_the_"
           "chief_writes_the_run",)),
    Fault("gru-gradient-skips-the-direct-path", "samplernn/gru_scan.py",
          "        return d_h * z_t + tf.matmul(d_recurrent, kernel, transpose_b=True)\n",
          "        return tf.matmul(d_recurrent, kernel, transpose_b=True)\n",
          ("tests/test_gru_scan.py::test_outputs_and_every_gradient_match_tensorflows",)),
    Fault("gru-kernel-gradient-one-step-late", "samplernn/gru_scan.py",
          "    d_kernel = tf.matmul(tf.reshape(h_prev, [-1, units]),\n",
          "    d_kernel = tf.matmul(tf.reshape(outputs, [-1, units]),\n",
          ("tests/test_gru_scan.py::test_outputs_and_every_gradient_match_tensorflows",)),
    Fault("gru-long-loop-runs-forward", "samplernn/gru_scan.py",
          "                       initializer=tf.zeros_like(d_outputs[0]), reverse=True)\n",
          "                       initializer=tf.zeros_like(d_outputs[0]), reverse=False)\n",
          ("tests/test_gru_scan.py::test_the_loop_past_the_unrolled_length_matches_too",)),
    Fault("fused-adam-bias-correction-off", "samplernn/optimizers.py",
          "            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),\n",
          "            beta1_power=tf.pow(beta_1, step + 1), beta2_power=tf.pow(beta_2, step),\n",
          ("tests/test_model.py::test_adam_matches_keras_adam_step_by_step",)),
    Fault("bias-gradient-first-row-only", "samplernn/layers.py",
          "        ones = tf.ones([1, tf.shape(rows)[0]], d_y.dtype)\n",
          "        ones = tf.one_hot([0], tf.shape(rows)[0], dtype=d_y.dtype)\n",
          ("tests/test_model.py::test_bias_add_and_its_gradients_equal_tensorflows",)),
    Fault("cross-entropy-wrong-class", "samplernn/model.py",
          "    return tf.gather(logits, targets, batch_dims=len(targets.shape))\n",
          "    return tf.reduce_max(logits, axis=-1)\n",
          ("tests/test_model.py::test_cross_entropy_and_its_gradient_equal_tensorflows_"
           "softmax_loss",)),
    Fault("sample-level-reads-the-target", "samplernn/model.py",
          "    starts = [top - frame_size + p for p in range(frame_size)]\n",
          "    starts = [top - frame_size + p + 1 for p in range(frame_size)]\n",
          ("tests/test_generation.py::test_sampler_is_exactly_the_trained_model",)),
    Fault("step-applies-no-update", "samplernn/training.py",
          "        self.optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), "
          "variables))\n",
          "        self.optimizer.apply_gradients(zip([0.0 * g for g in tape.gradient(scaled_loss, "
          "variables)], variables))\n",
          ("tests/test_distribute.py::test_mirrored_over_two_logical_cpus_matches_one_device",)),
    Fault("stream-autotuned", "samplernn/data.py",
          "        options.autotune.enabled = False   # see PREFETCH_WINDOWS\n",
          "        pass\n",
          ("tests/test_data.py::test_an_epochs_stream_is_freed_at_once_however_long_it_ran",)),
    Fault("training-steps-of-the-epoch-only", "samplernn/checkpoints.py",
          '    return int(_stored(prefix, "global_step", Progress.UNKNOWN_STEP))\n',
          '    return int(_stored(prefix, "step", Progress.UNKNOWN_STEP))\n',
          ("tests/test_train.py::test_an_interrupted_best_run_resumes_but_generation_keeps_"
           "the_best",)),
]


def copy_tree(destination: str) -> None:
    """The working tree's tracked and untracked (not ignored) files, into ``destination``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                            cwd=REPO_ROOT, check=True, capture_output=True).stdout
    for relative in filter(None, listed.decode().split("\0")):
        source = os.path.join(REPO_ROOT, relative)
        if not os.path.isfile(source):
            continue
        target = os.path.join(destination, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)


def plant(fault: Fault, tree: str) -> str:
    """Apply ``fault`` in ``tree``; return an empty string, or why it could not be."""
    path = os.path.join(tree, fault.file)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    count = text.count(fault.original)
    if count != 1:
        return f"stale: the original code occurs {count} times in {fault.file}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(fault.original, fault.planted))
    return ""


def check(fault: Fault) -> tuple:
    """``(verdict, seconds)``: ``caught`` when the named tests fail under the fault."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="planted-") as tree:
        copy_tree(tree)
        problem = plant(fault, tree)
        if problem:
            return problem, 0.0
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                                 "no:cacheprovider", *fault.tests], cwd=tree,
                                capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode == 1:
        return "caught", seconds
    if result.returncode == 0:
        return "MISSED (the tests passed)", seconds
    tail = (result.stdout + result.stderr).strip().splitlines()[-1:]
    return f"error (pytest status {result.returncode}: {' '.join(tail)})", seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="faults to plant (default: all)")
    parser.add_argument("--list", action="store_true", help="list the faults and stop")
    args = parser.parse_args(argv)
    chosen = [f for f in FAULTS if not args.names or f.name in args.names]
    unknown = set(args.names) - {f.name for f in FAULTS}
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(sorted(unknown))}")
    if args.list:
        for fault in chosen:
            print(f"{fault.name}: {fault.file} -> {', '.join(fault.tests)}")
        return 0
    print("| fault | file | test that catches it | verdict | s |")
    print("|---|---|---|---|---:|")
    missed = 0
    for fault in chosen:
        verdict, seconds = check(fault)
        missed += verdict != "caught"
        tests = ", ".join(t.split("::")[-1] for t in fault.tests)
        print(f"| {fault.name} | {fault.file} | {tests} | {verdict} | {seconds:.0f} |",
              flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
