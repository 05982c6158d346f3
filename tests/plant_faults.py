"""Plant known faults, one at a time, in a copy of the project and check that the
tests meant to catch each one fail.

    python tests/plant_faults.py                 # every fault in FAULTS
    python tests/plant_faults.py resume-no-restore lock-ignored   # some, by name
    python tests/plant_faults.py --list

Each fault replaces one exact piece of code (found exactly once, or the fault
is reported as stale) in a fresh copy of the working tree (tracked and
untracked files, as git lists them), then runs the named tests there. A fault
is *caught* when each named test fails on an assertion (``assert``, numpy's
``assert_*``, ``pytest.raises`` that saw nothing, ``pytest.fail``): a test that
fails in its set-up, or on another exception, has not caught the fault but
broken on it, and is reported so. The table printed at the end is the one in
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
import xml.etree.ElementTree as ElementTree

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
          "        checkpoints.restore(session.checkpoint, start.resume_prefix)\n",
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
          "    if start.resume_prefix and finished(args, start.resume_prefix):\n        return 0\n"
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
          '    if match.group("host") == here:\n',
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
    Fault("mirrored-one-replica-learns", "samplernn/training.py",
          "            replica_loss = loss / self.strategy.num_replicas_in_sync\n",
          "            replica_loss = loss / self.strategy.num_replicas_in_sync * tf.cast(\n"
          "                tf.distribute.get_replica_context().replica_id_in_sync_group == 0,"
          " loss.dtype)\n",
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
    Fault("schedule-counts-steps-of-the-run", "samplernn/training.py",
          "        fraction = schedule.fraction(epoch, step, steps_per_epoch, budget.seconds())\n",
          "        fraction = schedule.fraction(global_step // steps_per_epoch, global_step % "
          "steps_per_epoch, steps_per_epoch, budget.seconds())\n",
          ("tests/test_schedule.py::test_a_linear_schedule_over_epochs_stays_on_its_curve_"
           "after_a_resume_at_another_batch_size",)),
    Fault("accuracy-counts-every-tie", "samplernn/model.py",
          "    return tf.reduce_mean(tf.cast(tf.equal(first_max, targets), tf.float32))\n",
          "    return tf.reduce_mean(tf.cast(tf.equal(_target_logits(logits, targets), "
          "tf.reduce_max(logits, axis=-1)), tf.float32))\n",
          ("tests/test_model.py::test_accuracy_is_argmax_accuracy_and_a_tie_is_not_a_hit_for_all",)),
    Fault("train-seconds-not-restored", "samplernn/checkpoints.py",
          '    OPTIONAL = ("loss_sum", "accuracy_sum", "global_step", "train_seconds")\n',
          '    OPTIONAL = ("loss_sum", "accuracy_sum", "global_step")\n',
          ("tests/test_precision.py::test_any_precision_resumes_any_other",)),
    Fault("loss-scale-not-restored", "samplernn/checkpoints.py",
          '            optional["loss_scale"] = loss_scale\n',
          "            pass\n",
          ("tests/test_precision.py::test_any_precision_resumes_any_other",)),
    Fault("sweep-by-host-name-only", "samplernn/fileio.py",
          '    if match.group("host") == here:\n',
          '    if (match.group("host") or "").split(".ns")[0] == host_name():\n',
          ("tests/test_first_minute.py::test_stale_temporaries_of_a_killed_process_are_swept_"
           "at_start",)),
    Fault("read-only-logdir-traceback", "samplernn/locks.py",
          '        check_writable_directory(self.id_dir, "--logdir_root")\n',
          "        os.makedirs(self.id_dir, exist_ok=True)\n",
          ("tests/test_faults.py::test_a_read_only_logdir_is_one_line_naming_it",)),
    Fault("output-folder-checked-after-the-model", "samplernn/generation_files.py",
          '    check_writable_directory(os.path.dirname(os.path.abspath(output_path)), '
          '"--output_path")\n',
          "",
          ("tests/test_faults.py::test_a_read_only_output_folder_is_refused_before_the_model_"
           "loads",)),
    Fault("no-timed-checkpoints", "samplernn/training.py",
          "        if timed_saves.due() and step < steps_per_epoch:",
          "        if False:",
          ("tests/test_train.py::test_a_timed_checkpoint_holds_the_steps_done_mid_epoch",)),
    Fault("eta-past-the-budget", "samplernn/callbacks.py",
          "        return left if eta is None or not math.isfinite(eta) else min(eta, left)\n",
          "        return eta\n",
          ("tests/test_train.py::test_the_status_line_never_promises_past_the_budget_or_a_"
           "negative_time",)),
    Fault("budget-run-stops-early", "train.py",
          "        args.early_stopping_patience = (None if args.max_minutes\n",
          "        args.early_stopping_patience = (3 if args.max_minutes\n",
          ("tests/test_train.py::test_a_budget_run_spends_its_budget_unless_told_otherwise",)),
    Fault("continue-command-refused", "train.py",
          "    if learning_rate_schedule.spans_the_run():\n",
          "    if False:\n",
          ("tests/test_train.py::test_at_the_budget_train_py_prints_the_one_command_that_"
           "trains_further",)),
    Fault("continue-budget-doubled", "train.py",
          "    budget = math.ceil((trained_minutes + args.max_minutes) * 100) / 100"
          "  # to 0.01 min\n",
          "    budget = 2 * args.max_minutes\n",
          ("tests/test_train.py::test_at_the_budget_train_py_prints_the_one_command_that_"
           "trains_further",)),
    Fault("shipped-name-unknown", "samplernn/runs.py",
          "            and path in shipped_models():\n",
          "            and False:\n",
          ("tests/test_shipped.py::test_a_shipped_name_is_a_checkpoint_for_every_script",)),
    Fault("runs-imports-checkpoints", "samplernn/runs.py",
          "    prefix: str\n    config: ModelConfig\n",
          "    prefix: str\n    config: ModelConfig\n\n    def load_model(self):\n"
          "        from samplernn.checkpoints import load_model\n\n"
          "        return load_model(self.prefix, self.config)\n",
          ("tests/test_layout.py::test_no_import_circle_in_the_package",)),
    Fault("readme-flag-renamed", "README.md",
          "--num_epochs 6 --batch_size 8",
          "--num_epoch 6 --batch_size 8",
          ("tests/test_docs.py::test_every_documented_command_uses_real_flags_and_files",)),
    Fault("notes-ignore-the-decay", "samplernn/notes.py",
          '                              and generated["decay_db"]\n'
          '                              <= DECAY_SHARE * min(corpus["decay_db"], 0.0)),\n',
          "                              ),\n",
          ("tests/test_notes.py::test_the_verdict_against_a_corpus_names_what_is_missing",)),
    Fault("notes-absolute-decay", "samplernn/notes.py",
          '                              <= DECAY_SHARE * min(corpus["decay_db"], 0.0)),\n',
          "                              <= -1.0),\n",
          ("tests/test_notes.py::test_the_decay_asked_is_relative_to_the_corpus",)),
    Fault("init-from-weights-not-loaded", "train.py",
          "        checkpoints.restore(checkpoints.make_checkpoint(session.model), "
          "start.init_prefix)\n",
          "        pass\n",
          ("tests/test_train.py::test_init_from_starts_a_new_run_from_the_source_weights_and_"
           "resumes_as_itself",)),
    Fault("run-forgets-source-temperature", "samplernn/run_record.py",
          "        temperatures = recorded_temperatures(source) if source else "
          "[defaults.TEMPERATURE]\n",
          "        temperatures = [defaults.TEMPERATURE]\n",
          ("tests/test_train.py::test_init_from_starts_a_new_run_from_the_source_weights_and_"
           "resumes_as_itself",)),
    Fault("init-from-takes-any-architecture", "samplernn/resuming.py",
          '            raise UserError(f"--config_file {config_file} would change the '
          'architecture of "\n',
          "            if False: raise UserError(f\"--config_file {config_file} would change the "
          "architecture of \"\n",
          ("tests/test_train.py::test_init_from_refuses_another_architecture_before_tensorflow_"
           "work",)),
    Fault("chunking-stops-at-a-bad-file", "chunk_audio.py",
          "            if len(inputs) == 1:\n                raise\n",
          "            raise\n",
          ("tests/test_chunk_audio.py::test_an_undecodable_file_in_a_folder_is_skipped_with_a_"
           "warning",)),
    Fault("generate-ignores-recorded-temperature", "generate.py",
          "        args.temperature or run_record.recorded_temperatures(prefix), "
          "args.num_seqs)\n",
          "        args.temperature or [defaults.TEMPERATURE], args.num_seqs)\n",
          ("tests/test_generation.py::test_generate_samples_at_the_temperatures_its_run_"
           "recorded",)),
    Fault("train-records-no-temperature", "samplernn/run_record.py",
          "        save_sampling(run_dir, self.temperatures, **self.truncation)\n",
          "        pass\n",
          ("tests/test_generation.py::test_generate_samples_at_the_temperatures_its_run_"
           "recorded",)),
    Fault("notes-traceback-on-bad-file", "samplernn/notes.py",
          "    except UserError as error:",
          "    except KeyError as error:",
          ("tests/test_notes.py::test_a_missing_or_undecodable_file_is_one_line_naming_it",)),
    Fault("missing-file-called-undecodable", "samplernn/audio.py",
          '    require_file(path)\n    with warnings.catch_warnings(), quiet_stderr():   # see '
          'load_audio\n',
          '    with warnings.catch_warnings(), quiet_stderr():   # see load_audio\n',
          ("tests/test_notes.py::test_a_missing_or_undecodable_file_is_one_line_naming_it",)),
    Fault("notes-table-before-the-check", "samplernn/notes.py",
          "    for path in args.files:   # a wrong path is one line, before the table starts\n"
          "        require_file(path)\n",
          "",
          ("tests/test_notes.py::test_a_missing_file_is_reported_before_the_table_starts",)),
    # issue #46: audio that keeps playing
    Fault("windows-change-whitened", "samplernn/windows.py",
          "    change = spectral_change(magnitude, lag)\n",
          "    change = spectral_change(magnitude / (magnitude.mean(axis=0) + 1e-9), lag)\n",
          ("tests/test_windows.py::test_a_hiss_under_a_drone_is_still_a_drone",)),
    Fault("windows-one-dead-window-collapses", "samplernn/windows.py",
          "COLLAPSE_WINDOWS = 2 ", "COLLAPSE_WINDOWS = 1 ",
          ("tests/test_windows.py::test_one_dead_window_is_not_a_collapse",)),
    Fault("windows-noise-is-alive", "samplernn/windows.py",
          "    if window.flatness > bounds.max_flatness:\n", "    if False:\n",
          ("tests/test_windows.py::test_notes_are_alive_and_silence_noise_and_a_drone_are_"
           "dead",)),
    Fault("min-p-ignored", "samplernn/sample_level.py",
          "    kept = scaled_logits >= likeliest + tf.math.log(min_p)        # log(0) = -inf: "
          "all\n",
          "    kept = scaled_logits > -likeliest * float('inf')\n",
          ("tests/test_generation.py::test_truncated_draws_keep_the_nucleus_and_the_classes_"
           "above_min_p[1.0-0.3-3]",)),
    Fault("nucleus-one-too-many", "samplernn/sample_level.py",
          "        smallest_kept = tf.gather(descending, tf.maximum(count, 1) - 1, batch_dims=1)\n",
          "        smallest_kept = tf.gather(descending, tf.minimum(count, 7), batch_dims=1)\n",
          ("tests/test_generation.py::test_truncated_draws_keep_the_nucleus_and_the_classes_"
           "above_min_p[0.5-0.0-2]",)),
    Fault("generate-ignores-the-prime", "generate.py",
          "        seed = recorded_prime(prefix, config)\n", "        seed = None\n",
          ("tests/test_generation.py::test_a_run_records_its_prime_and_generate_starts_from_"
           "it",)),
    Fault("calibration-picks-the-worst", "samplernn/calibration.py",
          "    best = max(trials,", "    best = min(trials,",
          ("tests/test_calibration.py::test_the_temperature_whose_audio_has_notes_wins[0.9]",)),
    Fault("train-chooses-no-temperature", "train.py",
          "        calibrate_run(session.model, session.data, run_dir,",
          "        (session.model, session.data, run_dir,",
          ("tests/test_calibration.py::test_train_py_records_the_temperature_it_chose",)),
    Fault("export-truncate-ignored", "samplernn/export.py",
          "        self.truncation.assign(tf.stack([top_p, min_p]))\n",
          "        self.truncation.assign(tf.stack([1.0, 0.0]))\n",
          ("tests/test_export.py::test_exported_model_generates_what_generate_py_does",)),
    Fault("numba-cpu-set-late", "samplernn/__init__.py",
          'os.environ.setdefault("NUMBA_CPU_NAME", "generic")\n', "",
          ("tests/test_notes.py::test_numbas_cpu_is_set_before_librosa_can_load",)),
    Fault("input-noise-not-added", "samplernn/training.py",
          "        noisy = tf.round(tf.cast(inputs, tf.float32) + noise)\n",
          "        noisy = tf.round(tf.cast(inputs, tf.float32) + 0 * noise)\n",
          ("tests/test_model.py::test_input_noise_perturbs_the_inputs_within_the_classes_and_"
           "only_when_asked",)),
    Fault("tensorboard-not-told-alive", "samplernn/generation.py",
          "                if self.window_bounds is not None:", "                if False:",
          ("tests/test_observability.py::test_training_audio_is_judged_window_by_window_on_"
           "tensorboard",)),
    # issue #47: checkpoints never go back in time (5d2471e's behaviour, planted back)
    Fault("resume-prefers-any-interrupted-state", "samplernn/runs.py",
          "        return max(prefixes, key=_newest_state) if prefixes else None\n",
          "        states = _prefixes(directory, STATE_NAMES)\n"
          "        return max(states or prefixes, key=checkpoint_epoch) if prefixes else None\n",
          ("tests/test_checkpoint_policy.py::test_a_stale_state_from_an_earlier_release_never_"
           "wins",)),
    Fault("best-leaves-stale-states", "samplernn/callbacks.py",
          "            runs.remove_states(self.manager.directory, keep=prefix)\n",
          "            pass\n",
          ("tests/test_checkpoint_policy.py::test_resuming_takes_the_newest_state_after_every_"
           "save[best]",
           "tests/test_checkpoint_policy.py::test_a_killed_run_resumes_from_its_newest_save"
           "[Best]")),
    Fault("best-epoch-without-improvement-saves-nothing", "samplernn/callbacks.py",
          "            prefix = self._save(epoch, state=True)\n"
          "            self.saved_epoch = epoch\n",
          "            return\n",
          ("tests/test_checkpoint_policy.py::test_a_finished_best_run_started_again_has_"
           "nothing_to_do",
           "tests/test_checkpoint_policy.py::test_resuming_takes_the_newest_state_after_every_"
           "save[best]")),
    # issue #47: the continue command, abbreviations, --init_from (5d2471e's behaviour)
    Fault("continue-keeps-the-start-flags", "train.py",
          'NOT_CONTINUED = ("resume", "resume_from", "init_from", "config_file", "sample_rate")\n',
          "NOT_CONTINUED = ()\n",
          ("tests/test_train.py::test_the_continue_command_is_built_from_the_parsed_flags",)),
    Fault("flags-abbreviated", "samplernn/cli.py",
          "    return argparse.ArgumentParser(description=description, allow_abbrev=False, "
          "**kwargs)\n",
          "    return argparse.ArgumentParser(description=description, **kwargs)\n",
          ("tests/test_train.py::test_no_script_takes_an_abbreviated_flag[train]",
           "tests/test_train.py::test_no_script_takes_an_abbreviated_flag[generate]")),
    Fault("init-source-forgotten-on-resume", "samplernn/run_record.py",
          "        init_source=recorded_init_source(resume_prefix) if resume_prefix else "
          "init_prefix,\n",
          "        init_source=init_prefix,\n",
          ("tests/test_train.py::test_init_from_starts_afresh_and_its_source_is_never_needed_"
           "again",)),
    Fault("resume-needs-the-source", "samplernn/resuming.py",
          "    given_file = config_file if config_given else None\n",
          "    given_file = config_file if config_given else None\n"
          "    if init_from:\n        find_init_source(init_from)\n",
          ("tests/test_train.py::test_init_from_starts_afresh_and_its_source_is_never_needed_"
           "again",)),
    Fault("init-from-carries-the-source-progress", "train.py",
          "        checkpoints.restore(checkpoints.make_checkpoint(session.model), "
          "start.init_prefix)\n",
          "        checkpoints.restore(checkpoints.make_checkpoint(session.model, None, "
          "session.progress), start.init_prefix)\n",
          ("tests/test_train.py::test_init_from_starts_afresh_and_its_source_is_never_needed_"
           "again",)),
    Fault("init-from-says-from-scratch", "samplernn/resuming.py",
          "    if init_from:\n        init_prefix, config = find_init_source(",
          "    log.info('No checkpoint found for id: training from scratch')\n"
          "    if init_from:\n        init_prefix, config = find_init_source(",
          ("tests/test_train.py::test_init_from_starts_afresh_and_its_source_is_never_needed_"
           "again",)),
    # issue #47: an unreadable checkpoint (5d2471e's behaviour)
    Fault("damaged-checkpoint-traceback", "samplernn/checkpoints.py",
          "_UNREADABLE = (tf.errors.OpError, ValueError, IndexError, RuntimeError, OSError)\n",
          "_UNREADABLE = (tf.errors.OpError, ValueError)\n",
          ("tests/test_faults.py::test_a_damaged_checkpoint_is_one_line_naming_it_in_every_"
           "script[data-truncated]",)),
    Fault("init-source-read-after-the-corpus", "train.py",
          "    check_start_readable(args, start)\n", "",
          ("tests/test_faults.py::test_a_damaged_checkpoint_is_one_line_naming_it_in_every_"
           "script[data-truncated]",)),
    Fault("checkpoint-index-file-refused", "samplernn/runs.py",
          "    if file_of and is_checkpoint(path[:file_of.start()]):", "    if False:",
          ("tests/test_faults.py::test_a_checkpoints_own_files_name_it",)),
    # issue #47: model cards tied to their CSVs, licensed
    Fault("card-figure-hand-edited", "models/base128/README.md",
          "| drascula-music | no | 4.4497 |", "| drascula-music | no | 4.4397 |",
          ("tests/test_shipped.py::test_every_figure_of_a_card_comes_from_its_csvs[base128]",)),
    Fault("card-package-version-dropped", "models/base256/README.md",
          "| wesnoth-1.16-music | 1:1.16.9-1 |", "| wesnoth-1.16-music | 1.16 |",
          ("tests/test_shipped.py::test_every_figure_of_a_card_comes_from_its_csvs[base256]",)),
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


# What a test raises when one of its checks fails (the last word of pytest's
# "path:line: ExceptionName" line): `assert` and numpy's asserts, pytest.fail/raises.
ASSERTION_FAILURES = ("AssertionError", "Failed")


def outcomes(report_path: str) -> dict:
    """``{"tests/test_x.py::test_name": [(kind, exception), ...]}`` from pytest's
    JUnit XML report: one entry per failed or errored case (parameters dropped),
    ``kind`` "failure" or "error", ``exception`` the class name raised."""
    found = {}
    for case in ElementTree.parse(report_path).iter("testcase"):
        node = (case.get("classname").replace(".", "/") + ".py::"
                + case.get("name").split("[")[0])
        for child in case:
            if child.tag in ("failure", "error"):
                last_line = (child.text or "").strip().splitlines()[-1:] or [""]
                found.setdefault(node, []).append((child.tag, last_line[0].split(": ")[-1]))
    return found


def verdict_of(fault: Fault, report_path: str) -> str:
    """``caught`` when every named test failed on an assertion; else what happened."""
    found = outcomes(report_path)
    for test in fault.tests:
        failed = found.get(test.split("[")[0], [])
        if not failed:
            return f"MISSED ({test.split('::')[-1]} passed)"
        if not any(kind == "failure" and exception in ASSERTION_FAILURES
                   for kind, exception in failed):
            kind, exception = failed[0]
            return f"broken, not caught ({test.split('::')[-1]}: {kind}, {exception})"
    return "caught"


def check(fault: Fault) -> tuple:
    """``(verdict, seconds)``: ``caught`` when the named tests fail on an assertion."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="planted-") as tree:
        copy_tree(tree)
        problem = plant(fault, tree)
        if problem:
            return problem, 0.0
        report = os.path.join(tree, "planted-report.xml")
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 f"--junitxml={report}", *fault.tests], cwd=tree,
                                capture_output=True, text=True)
        if result.returncode not in (0, 1) or not os.path.isfile(report):
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:]
            return (f"error (pytest status {result.returncode}: {' '.join(tail)})",
                    time.perf_counter() - started)
        verdict = verdict_of(fault, report)
    return verdict, time.perf_counter() - started


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
