"""Inputs → frames: images, folders, videos sampled at ``fps``, PIL images and arrays.

:func:`iter_frames` turns what a user hands :class:`afg.Predictor` into :class:`Frame` records
``(input, index, time_s, image)``, one per image or sampled video frame, in input order (folders
in sorted order). An input that cannot be read becomes one frame whose ``image`` is the exception,
so that a prediction table gets a status row instead of a crash.

Video sampling (:func:`read_video_frames`, OpenCV when installed, else PyAV): with the file's
native rate :math:`r` and the requested rate ``fps`` :math:`f`, frame :math:`i` is kept iff
:math:`i \\bmod s = 0` with step :math:`s = \\max(1, \\operatorname{round}(r / f))` (every frame
when ``fps`` is ``None`` or the file declares no rate), and its time is :math:`t_i = i / r` seconds
(NaN without a rate). Images and ``(T, H, W, C)`` arrays of frames have no rate: ``time_s`` is NaN.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image

from .faces import load_input

__all__ = ["IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "Frame", "batched", "expand_path", "iter_frames",
           "read_video_frames", "sample_step"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")

#: what reading one image or frame may raise; any of them becomes the frame's ``image``
_READ_ERRORS = (OSError, ValueError, TypeError)


class Frame(NamedTuple):
    """One image or sampled video frame of an input."""

    input: str  # the file, or ``<ndarray 3>`` for the 4th in-memory input
    index: int  # frame number in the video (0 for images)
    time_s: float  # index / native fps for video files, else NaN
    image: np.ndarray | Exception  # (H, W, 3) uint8 RGB, or why it could not be read


def sample_step(native_fps: float, fps: float | None) -> int:
    """Keep every ``s``-th frame, :math:`s = \\max(1, \\operatorname{round}(r / f))`; 1 when
    ``fps`` is ``None``/0 or the native rate :math:`r` is unknown (≤ 0)."""
    return 1 if not fps or native_fps <= 0 else max(1, round(native_fps / fps))


def _opencv_frames(cv2: Any, path: str | os.PathLike, fps: float | None) -> Iterator[tuple[int, float, np.ndarray]]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot open the video")
    native = cap.get(cv2.CAP_PROP_FPS) or 0.0
    step = sample_step(native, fps)
    i = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % step == 0:
                rgb = np.ascontiguousarray(frame[..., ::-1])  # BGR → RGB
                yield i, (i / native if native > 0 else float("nan")), rgb
            i += 1
    finally:
        cap.release()
    if i == 0:
        raise RuntimeError(f"{path}: no decodable frame")


def _pyav_frames(path: str | os.PathLike, fps: float | None) -> Iterator[tuple[int, float, np.ndarray]]:
    try:
        import av  # local: optional video decoder (PyAV)
    except ImportError:
        raise RuntimeError("reading videos needs OpenCV (opencv-python) or PyAV (av)") from None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        native = float(stream.average_rate or 0)
        step = sample_step(native, fps)
        for i, frame in enumerate(container.decode(stream)):
            if i % step == 0:
                yield i, (i / native if native > 0 else float("nan")), frame.to_ndarray(format="rgb24")


def read_video_frames(path: str | os.PathLike, fps: float | None = 1.0,
                      max_frames: int | None = None, with_time: bool = False) -> Iterator[tuple]:
    """``(frame number, (H, W, 3) uint8 RGB)`` sampled at ``fps`` frames per second (``None``:
    every frame; see :func:`sample_step`); with ``with_time`` ``(frame number, time in s, frame)``,
    the time being ``frame / native fps`` (NaN when the file declares no rate). OpenCV is used when
    installed, else PyAV; raises ``RuntimeError`` when the file cannot be opened or no reader is
    installed."""
    try:
        import cv2  # local: optional video decoder (OpenCV), tried when PyAV is missing
    except ImportError:
        cv2 = None
    frames = _opencv_frames(cv2, path, fps) if cv2 is not None else _pyav_frames(path, fps)
    for kept, (i, t, rgb) in enumerate(frames, start=1):
        yield (i, t, rgb) if with_time else (i, rgb)
        if max_frames is not None and kept >= max_frames:
            frames.close()  # releases the capture / container
            return


def expand_path(p: Path) -> list[Path]:
    """A folder → its image and video files (recursively, sorted, hidden files skipped); a file
    → itself."""
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")
                      and f.suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
    return [p]


def _read(label: str, index: int, source: Any) -> Frame:
    """``source`` (a path, PIL image or array) as a frame; a read error becomes the image."""
    try:
        return Frame(label, index, float("nan"), load_input(source))
    except _READ_ERRORS as exc:
        return Frame(label, index, float("nan"), exc)


def _video(f: Path, fps: float | None, max_frames: int | None) -> Iterator[Frame]:
    """The sampled frames of a video file; one error frame when it has none or cannot be read."""
    try:
        got = False
        for i, t, rgb in read_video_frames(f, fps, max_frames, with_time=True):
            got = True
            yield Frame(str(f), i, t, rgb)
        if not got:
            yield Frame(str(f), 0, float("nan"), ValueError(f"{f}: no frames"))
    except (RuntimeError, OSError, ValueError) as exc:
        yield Frame(str(f), 0, float("nan"), exc)


def _path_frames(item: str | os.PathLike, fps: float | None, max_frames: int | None) -> Iterator[Frame]:
    p = Path(item)
    if not p.exists():
        yield Frame(str(item), 0, float("nan"), FileNotFoundError(f"{item}: no such file or folder"))
        return
    for f in expand_path(p):
        if f.suffix.lower() in VIDEO_EXTENSIONS:
            yield from _video(f, fps, max_frames)
        else:
            yield _read(str(f), 0, str(f))


def iter_frames(inputs: Any, fps: float | None = 1.0, max_frames: int | None = None) -> Iterator[Frame]:
    """Every frame of every input (see the module doc). ``inputs``: a path (image, video or
    folder), a PIL image, an ``(H, W[, C])`` array or tensor, a ``(T, H, W, C)`` array of frames,
    or a list mixing them; in-memory inputs are labelled ``<type k>`` (``k``: position in the
    list)."""
    if isinstance(inputs, (str, os.PathLike, Image.Image, np.ndarray, torch.Tensor)):
        inputs = [inputs]
    for k, item in enumerate(inputs):
        if isinstance(item, (str, os.PathLike)):
            yield from _path_frames(item, fps, max_frames)
            continue
        if isinstance(item, torch.Tensor):
            item = item.detach().cpu().numpy()
        label = f"<{type(item).__name__} {k}>"
        if isinstance(item, np.ndarray) and item.ndim == 4:  # (T, H, W, C) frames of a video
            yield from (_read(label, i, frame) for i, frame in enumerate(item))
        else:
            yield _read(label, 0, item)


def batched(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``n`` items (the last one shorter), as ``itertools.batched`` (3.12)."""
    buf: list[Any] = []
    for x in items:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf
