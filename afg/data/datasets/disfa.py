"""DISFA: AU intensities in ``ActionUnit_Labels/SN###/SN###_au{N}.txt``.

Each file holds lines ``frame,intensity`` (intensity 0–5, no header); line t labels frame t of the
left-camera video. An AU is *present* when intensity ≥ ``threshold`` (default 2). Default AUs:
1 2 4 6 9 12 25 26 (any of the 12 coded AUs 1 2 4 5 6 9 12 15 17 20 25 26 may be chosen).
Frames are image files ``{images}/SN###/{index}.{ext}`` (padded or not) — extract them from
``Videos_LeftCamera/*.avi`` once with :meth:`DISFA.extract_frames`. The image index of label frame
``f`` is ``f + frame_offset``; by default the offset is detected (the authors' lists use 0-based
``SN003/0.png`` for frame 1). Protocol: subject-independent 3 folds over the standard parts
(fold 1 tests part 3, fold 2 part 2, fold 3 part 1).
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..image_io import write_image
from .base import (
    FrameLookup,
    ReleaseAdapter,
    ReleaseFormatError,
    au_name,
    find_dir,
    read_text_lines,
)
from .bp4d import fold_of_part

__all__ = ["DISFA", "DISFA_AUS", "DISFA_CODED_AUS", "DISFA_PARTS"]

DISFA_AUS = (1, 2, 4, 6, 9, 12, 25, 26)
DISFA_CODED_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
DISFA_PARTS = (
    ("SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016"),
    ("SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024"),
    ("SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004"),
)


class DISFA(ReleaseAdapter):
    """DISFA adapter.

    Args:
        root: release folder (holding ``ActionUnit_Labels``).
        aus: AU numbers (default the 8 of the protocol).
        threshold: intensity at or above which an AU is present (default 2).
        images: frame folder relative to ``root`` (default: first existing of ``frames``,
            ``Images_LeftCamera``, ``img``, ``images``, else ``frames``).
        frame_offset: image index − label frame; ``None`` detects 0 or −1 from the files.
        keep_intensity: also keep ``{AU}_intensity`` columns.
    """

    name = "disfa"
    PARTS = DISFA_PARTS
    missing_images_hint = ("the frames are not extracted yet: run DISFA(root, check_images=False)"
                           ".extract_frames() once (afg.data.datasets.DISFA.extract_frames decodes "
                           "Videos_LeftCamera/*.avi into that folder)")

    def __init__(self, root, aus: Sequence[int] = DISFA_AUS, threshold: float = 2,
                 images: str | None = None, frame_offset: int | None = None,
                 image_ext: str = ".png", keep_intensity: bool = False, **kw):
        bad = [a for a in aus if int(a) not in DISFA_CODED_AUS]
        if bad:
            raise ValueError(f"DISFA codes AUs {DISFA_CODED_AUS}; not {bad}")
        self.aus = tuple(int(a) for a in aus)
        self.au_names = [au_name(a) for a in self.aus]
        self.threshold = float(threshold)
        self._images = images
        self.frame_offset = frame_offset
        self._ext = image_ext
        self.keep_intensity = keep_intensity
        super().__init__(root, **kw)

    @property
    def image_root(self) -> Path:
        if self._images is not None:
            return self.root / self._images
        return find_dir(self.root, ["frames", "Images_LeftCamera", "img", "images"],
                        required=False) or (self.root / "frames")

    def _load(self) -> pd.DataFrame:
        lab = find_dir(self.root, ["ActionUnit_Labels", "ActionUnit_labels", "AU_labels"],
                       what="DISFA ActionUnit_Labels folder")
        img_root = self.image_root
        lookup = FrameLookup()
        fold = fold_of_part(self.PARTS)
        subjects = sorted(d for d in os.listdir(lab) if re.fullmatch(r"SN\d{3}", d) and (lab / d).is_dir())
        if not subjects:
            raise FileNotFoundError(f"DISFA: no SN### folders in {lab}")
        out = []
        for subj in subjects:
            inten: dict[int, dict[int, float]] = {}
            for a in self.aus:
                path = lab / subj / f"{subj}_au{a}.txt"
                if not path.is_file():
                    raise FileNotFoundError(f"DISFA: label file {path} is missing")
                inten[a] = self._read_au(path)
            frames = sorted(set().union(*[set(d) for d in inten.values()]))
            folder = img_root / subj
            offset = self.frame_offset
            if offset is None:
                offset = self._detect_offset(lookup.index(folder), frames)
            raw = np.array([[inten[a].get(f, np.nan) for a in self.aus] for f in frames], dtype=float)
            occ = np.where(np.isnan(raw), np.nan, (raw >= self.threshold).astype(float))
            df = pd.DataFrame(occ, columns=self.au_names)
            if self.keep_intensity:
                for j, nm in enumerate(self.au_names):
                    df[f"{nm}_intensity"] = raw[:, j]
            df.insert(0, "image", [lookup.path(folder, f + offset, self._ext) for f in frames])
            df.insert(1, "subject", subj)
            df.insert(2, "frame", np.asarray(frames, dtype=np.int64))
            out.append(df)
        rec = pd.concat(out, ignore_index=True)
        rec["fold"] = rec["subject"].map(fold).astype("Int64")
        return rec

    @staticmethod
    def _read_au(path: Path) -> dict[int, float]:
        table: dict[int, float] = {}
        for lineno, text in read_text_lines(path):
            parts = [p for p in re.split(r"[,\s]+", text) if p]
            if len(parts) != 2:
                raise ReleaseFormatError(path, lineno, f"expected 'frame,intensity', got {text[:60]!r}")
            try:
                f, v = int(float(parts[0])), float(parts[1])
            except ValueError:
                raise ReleaseFormatError(path, lineno, f"non-numeric entry {text[:60]!r}") from None
            if not 0 <= v <= 5:
                raise ReleaseFormatError(path, lineno, f"intensity {v:g} outside 0..5")
            table[f] = v
        return table

    @staticmethod
    def _detect_offset(index: dict[int, str], frames: list[int]) -> int:
        if not index or not frames:
            return -1  # the convention of the published lists: frame 1 ↔ 0.png
        best, hits = -1, -1
        for off in (-1, 0):
            h = sum((f + off) in index for f in frames)
            if h > hits:
                best, hits = off, h
        return best

    def extract_frames(self, videos: str = "Videos_LeftCamera", out: str | None = None,
                       image_ext: str | None = None, overwrite: bool = False) -> dict[str, int]:
        """Decode ``{root}/{videos}/*SN###*.avi`` into ``{out}/SN###/{t}.{ext}`` (t from 0).

        Optional step (needs PyAV or OpenCV for decoding). Returns frames written per subject.
        """
        vdir = self.root / videos
        dest = Path(out) if out is not None else self.image_root
        ext = image_ext or self._ext
        written: dict[str, int] = {}
        for video in sorted(vdir.glob("*.avi")):
            m = re.search(r"SN\d{3}", video.name)
            if not m:
                continue
            subj = m.group(0)
            n = 0
            for t, frame in enumerate(_iter_video(video)):
                target = dest / subj / f"{t}{ext}"
                if overwrite or not target.exists():
                    write_image(target, frame)
                n += 1
            written[subj] = n
        return written


def _iter_video(path: Path):
    """RGB uint8 frames of a video via PyAV (torchvision's backend) or OpenCV."""
    try:
        import av  # type: ignore  # local: optional video decoder (PyAV)

        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")
        return
    except ImportError:
        pass
    try:
        import cv2  # type: ignore  # local: optional video decoder (OpenCV), tried when PyAV is missing
    except ImportError as exc:
        raise ImportError("frame extraction needs PyAV (pip install av) or OpenCV") from exc
    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield frame[..., ::-1].copy()
    finally:
        cap.release()
