import os

import numpy as np
import pytest
import soundfile

import chunk_audio
from samplernn.errors import UserError

RATE = 8000


@pytest.fixture
def recording(tmp_path):
    """10.5 s: tone 0-3.8 s, silence 3.8-7.2 s, tone 7.2-10.5 s (stereo, 16-bit)."""
    t = np.arange(int(10.5 * RATE)) / RATE
    audio = 0.5 * np.sin(2 * np.pi * 330 * t)
    audio[int(3.8 * RATE):int(7.2 * RATE)] = 0.0
    path = tmp_path / "take.wav"
    soundfile.write(str(path), np.stack([audio, audio], 1), RATE, subtype="PCM_16")
    return str(path), audio


def test_chunks_names_lengths_overlaps_and_silence(recording, tmp_path, capsys):
    path, audio = recording
    out = tmp_path / "chunks"  # created by the script
    assert chunk_audio.main(["--input_file", path, "--output_dir", str(out) + "/",
                             "--chunk_length", "2000", "--overlap", "500"]) == 0
    # Chunks start every 1.5 s: 0, 1.5, ..., 7.5 s -> 6 full chunks; 9.0 s leaves 1.5 s (dropped).
    # Chunks 3 (3-5 s: 1.2 s silent), 4 (4.5-6.5: all silent) and 5 (6-8: 1.2 s silent)
    # are at least half silent and omitted.
    names = sorted(os.listdir(out), key=lambda n: int(n.split("_")[-1][:-4]))
    assert names == ["take_chunk_1.wav", "take_chunk_2.wav", "take_chunk_6.wav"]
    text = capsys.readouterr().out
    for n in (3, 4, 5):
        assert f"Chunk {n} of take is silent: omitted" in text
    assert ("Done: 6 chunk(s) processed, 3 omitted as silent, 3 written" in text
            and "1 trailing piece(s)" in text)
    first, rate = soundfile.read(str(out / "take_chunk_1.wav"))
    second, _ = soundfile.read(str(out / "take_chunk_2.wav"))
    assert rate == RATE and first.ndim == 1 and len(first) == 2 * RATE
    np.testing.assert_allclose(first[int(1.5 * RATE):], second[:int(0.5 * RATE)], atol=1e-4)
    np.testing.assert_allclose(first, audio[:2 * RATE], atol=1e-4)


def test_resampling_and_bad_input(recording, tmp_path):
    path, _ = recording
    chunk_audio.main(["--input_file", path, "--output_dir", str(tmp_path / "r"),
                      "--chunk_length", "1000", "--sample_rate", "16000"])
    audio, rate = soundfile.read(str(tmp_path / "r" / "take_chunk_1.wav"))
    assert rate == 16000 and len(audio) == 16000
    with pytest.raises(UserError, match="does not exist"):
        chunk_audio.main(["--input_file", str(tmp_path / "no.wav"), "--output_dir", "x"])
    with pytest.raises(UserError, match="--overlap must be"):
        chunk_audio.main(["--input_file", path, "--output_dir", "x", "--chunk_length", "100",
                          "--overlap", "100"])
    with pytest.raises(UserError, match="--chunk_length must be positive"):
        chunk_audio.main(["--input_file", path, "--output_dir", "x", "--chunk_length", "0"])
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav" * 20)
    with pytest.raises(UserError, match="cannot be decoded"):
        chunk_audio.main(["--input_file", str(bad), "--output_dir", "x"])


def test_a_directory_of_inputs(recording, tmp_path, capsys):
    path, _ = recording
    folder = tmp_path / "takes"
    folder.mkdir()
    soundfile.write(str(folder / "b.wav"), np.full(3 * RATE, 0.3), RATE)
    os.rename(path, folder / "a.wav")
    chunk_audio.main(["--input_file", str(folder), "--output_dir", str(tmp_path / "out"),
                      "--chunk_length", "1000"])
    names = sorted(os.listdir(tmp_path / "out"))
    assert [n for n in names if n.startswith("b_")] == ["b_chunk_1.wav", "b_chunk_2.wav",
                                                         "b_chunk_3.wav"]
    assert len([n for n in names if n.startswith("a_")]) == 7  # 10 chunks, 3 silent
    assert "Done: 13 chunk(s) processed, 3 omitted as silent, 10 written" in capsys.readouterr().out


def test_an_undecodable_file_in_a_folder_is_skipped_with_a_warning(recording, tmp_path, capsys):
    """As train.py does: the bad file (sorted first here) is named in a warning, the
    good ones are chunked, the summary counts the skip, and the exit status is 0. A
    folder of bad files only is an error naming them."""
    path, _ = recording
    folder = tmp_path / "takes"
    folder.mkdir()
    (folder / "a_broken.wav").write_bytes(b"not a wav" * 20)
    os.rename(path, folder / "b.wav")
    try:
        status = chunk_audio.main(["--input_file", str(folder), "--output_dir",
                                   str(tmp_path / "out"), "--chunk_length", "1000"])
    except UserError as e:
        pytest.fail(f"stopped at the bad file: {e}")
    assert status == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "a_broken.wav cannot be decoded" in out
    assert len(os.listdir(tmp_path / "out")) == 7
    assert "7 written" in out and "1 undecodable input(s) skipped" in out
    os.remove(folder / "b.wav")
    with pytest.raises(UserError, match=r"a_broken.wav cannot be decoded"):
        chunk_audio.main(["--input_file", str(folder), "--output_dir", str(tmp_path / "o2")])
