"""afg.data.frames: inputs → frames (folders, missing files, arrays, videos) and video sampling."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from afg.data.frames import Frame, batched, iter_frames, read_video_frames, sample_step
from afg.data.image_io import UnreadableImageError


@pytest.mark.parametrize(("native", "fps", "step"), [
    (30.0, 1.0, 30),  # round(30 / 1)
    (25.0, 4.0, 6),  # round(6.25)
    (10.0, 4.0, 2),  # round(2.5) = 2 (round half to even)
    (30.0, 60.0, 1),  # faster than the file: every frame
    (0.0, 1.0, 1),  # no declared rate: every frame
    (30.0, None, 1),  # fps None: every frame
])
def test_sample_step_by_hand(native, fps, step):
    assert sample_step(native, fps) == step


def test_batched():
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batched([], 3)) == []


def _image(value: int) -> np.ndarray:
    return np.full((8, 10, 3), value, np.uint8)


def test_folders_missing_files_arrays_and_tensors(tmp_path):
    folder = tmp_path / "faces"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(_image(20)).save(folder / "b.png")
    Image.fromarray(_image(10)).save(folder / "sub" / "a.png")
    Image.fromarray(_image(30)).save(folder / ".hidden.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    clip = np.stack([_image(40), _image(50)])  # (T, H, W, C)
    frames = list(iter_frames([str(folder), str(tmp_path / "nope.png"), clip,
                               torch.from_numpy(_image(60)), np.zeros((1, 1, 3), np.uint8)]))
    assert all(isinstance(f, Frame) and math.isnan(f.time_s) for f in frames)
    # folder: sorted, recursive, hidden and non-image files skipped; an unreadable image is an error frame
    assert [f.input for f in frames[:3]] == [str(folder / n) for n in ("b.png", "broken.jpg", "sub/a.png")]
    assert int(frames[0].image[0, 0, 0]) == 20 and int(frames[2].image[0, 0, 0]) == 10
    assert isinstance(frames[1].image, UnreadableImageError)
    missing = frames[3]
    assert missing.input == str(tmp_path / "nope.png") and isinstance(missing.image, FileNotFoundError)
    # the 3rd input (position 2): its frames 0 and 1; then the tensor, then a too-small array
    assert [(f.input, f.index) for f in frames[4:]] == [
        ("<ndarray 2>", 0), ("<ndarray 2>", 1), ("<ndarray 3>", 0), ("<ndarray 4>", 0)]
    assert [int(f.image[0, 0, 0]) for f in frames[4:7]] == [40, 50, 60]
    assert isinstance(frames[7].image, UnreadableImageError) and "too small" in str(frames[7].image)
    # a single input need not be in a list
    assert [f.input for f in iter_frames(Image.fromarray(_image(1)))] == ["<Image 0>"]


def _video(path, n: int, fps: float) -> None:
    cv2 = pytest.importorskip("cv2")
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 32))
    if not w.isOpened():
        pytest.skip("OpenCV has no MJPG writer here")
    for i in range(n):  # frame i is grey level 20·i
        w.write(np.full((32, 32, 3), 20 * i, np.uint8))
    w.release()


def test_video_sampling_times_and_max_frames(tmp_path):
    _video(tmp_path / "clip.avi", n=10, fps=5.0)
    got = list(read_video_frames(tmp_path / "clip.avi", fps=2.0, with_time=True))  # step round(2.5) = 2
    assert [i for i, _, _ in got] == [0, 2, 4, 6, 8]
    np.testing.assert_allclose([t for _, t, _ in got], [0.0, 0.4, 0.8, 1.2, 1.6])  # i / 5 fps
    np.testing.assert_allclose([float(im.mean()) for _, _, im in got], [0, 40, 80, 120, 160], atol=3)
    assert [i for i, _ in read_video_frames(tmp_path / "clip.avi", fps=None, max_frames=3)] == [0, 1, 2]
    frames = list(iter_frames(str(tmp_path), fps=2.0, max_frames=2))  # a folder holding the video
    assert [(f.input, f.index, f.time_s) for f in frames] == [
        (str(tmp_path / "clip.avi"), 0, 0.0), (str(tmp_path / "clip.avi"), 2, 0.4)]


def test_unreadable_video_and_no_reader_are_error_frames(tmp_path, monkeypatch):
    pytest.importorskip("cv2")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 64)
    (frame,) = iter_frames(str(bad))
    assert frame.input == str(bad) and isinstance(frame.image, RuntimeError)
    assert "bad.mp4" in str(frame.image)
    monkeypatch.setitem(sys.modules, "cv2", None)  # no OpenCV: PyAV, or one line naming both
    monkeypatch.setitem(sys.modules, "av", None)
    (frame,) = iter_frames(str(bad))
    assert str(frame.image) == "reading videos needs OpenCV (opencv-python) or PyAV (av)"
