"""Inference on new images and videos: ``Predictor(checkpoint).predict(inputs) -> DataFrame``.

>>> p = Predictor("runs/me_graphau_stage1-1a2b3c")    # a run folder, or a checkpoint file
>>> df = p.predict(["photo.jpg", "folder/", "clip.mp4", pil_image, array])
>>> df[["input", "frame", "FaceRectX", "FaceScore", "AU01", "AU12", "status"]]

The checkpoint is read by :func:`afg.inference.load_model_checkpoint`
(``torch.load(weights_only=True)`` or ``.safetensors`` only — a downloaded file is never unpickled
into arbitrary objects): afg checkpoints and their ``.safetensors`` export, the authors'
ME-GraphAU (``MEFARG``) checkpoints (12 AUs = BP4D, 8 = DISFA order) and their OpenGraphAU
checkpoints (41 AUs: ``AU01 … AU39``, then ``AUL1, AUR1, …, AUR14``). What the checkpoint holds
besides weights (task, label names, its input spec: image size, ``data.resize``, normalisation …)
is its :class:`~afg.inference.CheckpointInfo`, ``Predictor.info``. For OpenGraphAU the face is
aligned at 256 px and its centre 224 px crop is fed to the model (their evaluation: shorter side
256, centre crop 224, ImageNet statistics).

Pipeline: every input becomes frames (:func:`afg.data.frames.iter_frames`: images; folders in
sorted order; videos sampled at ``fps`` frames per second with OpenCV, else PyAV); frames are
detected in batches with MTCNN (:class:`afg.data.faces.FaceAligner`), *every* face above
``face_threshold`` is aligned with the same 5-point similarity transform used by ``afg prepare``
to the model's ``img_size`` and the crops go through the model in batches. ``detect=False`` skips
detection for inputs that are already aligned face crops (e.g. synthetic faces): the whole image
is resized to ``img_size``.

Output columns (py-feat style): ``input``, ``frame``, ``face`` (index in the frame),
``FaceRectX``, ``FaceRectY``, ``FaceRectWidth``, ``FaceRectHeight`` (source pixels, top-left
corner), ``FaceScore``, then one column per label — AU models: ``AU01``, ``AU02``, …
probabilities; expression models: one probability per class (softmax), ``expression`` (the
argmax name) and ``valence``/``arousal`` when the model predicts them; multi-label models: one
sigmoid probability per emotion — and finally ``status`` (``ok``, ``no_face``, ``unreadable``)
and ``reason``. When an input is a video file, ``time_s`` follows ``frame``: the frame's time,
``frame / native fps`` (NaN for the rows of images). Frames without a face and unreadable
inputs are rows with NaN predictions and a status; ``predict`` does not raise for bad inputs.
``df.attrs["label_descriptions"]`` maps the label columns to readable names (FACS names for
AUs) for plots (:mod:`afg.viz.au`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from .data.augment import FaceAugment
from .data.faces import FaceAligner
from .data.frames import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Frame,
    batched,
    iter_frames,
    read_video_frames,
)
from .data.transforms import IMAGENET_MEAN, IMAGENET_STD, to_tensor
from .inference import CheckpointInfo, load_model_checkpoint, resolve_checkpoint
from .progress import bar
from .runs import CheckpointError
from .utils import resolve_device

__all__ = [
    "FACE_COLUMNS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "CheckpointError",
    "CheckpointInfo",
    "Predictor",
    "load_model_checkpoint",
    "read_video_frames",
    "resolve_checkpoint",
]

FACE_COLUMNS = ["FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore"]


# ------------------------------------------------------------------------------ predictor
class Predictor:
    """Face detection + alignment + an afg model → one table row per face (see module doc).

    Args:
        checkpoint: an afg checkpoint (``.pt``), a run folder, an authors' ME-GraphAU or
            OpenGraphAU checkpoint (41 columns ``AU01 … AU39, AUL1 … AUR14``; faces aligned at
            256 px, centre 224 px fed to the model, as OpenGraphAU evaluates), or an already built
            ``nn.Module`` (then ``label_names``/``img_size`` come from its attributes /
            ``model_config``).
        device: ``"auto"`` (CUDA, MPS, CPU), ``"cpu"``, ``"cuda:0"`` …; MTCNN runs there too.
        detect: default for :meth:`predict` — ``False`` treats every input as an aligned face.
        batch_size: frames per MTCNN call and crops per model call.
        face_threshold: minimum MTCNN probability for a face to get a row.
        fps: frames per second sampled from videos (``None``: every frame).
        margin: alignment margin (as in ``afg prepare``, default 0.1).
        img_size: crop size fed to the model (default: the checkpoint's input spec's ``img_size``).
        resize: faces are aligned at ``resize`` px and their centre ``img_size`` crop is fed to the
            model — the test-time half of a recipe that trains on random ``img_size`` crops of
            ``resize`` px faces (``data.resize``, e.g. 256 → 224 in ME-GraphAU / Li et al.).
            Default: the checkpoint's input spec (:class:`afg.runs.InputSpec`; 256 for OpenGraphAU
            checkpoints); a checkpoint written before checkpoints carried one: ``data.resize`` of
            the run's ``config.yaml`` beside it, else none.
        min_face_size: MTCNN's smallest face in pixels.
        max_frames: at most this many sampled frames per video file (``None``: all).
    """

    def __init__(self, checkpoint: Any, device: str | torch.device = "auto", detect: bool = True,
                 batch_size: int = 16, face_threshold: float = 0.9, fps: float | None = 1.0,
                 margin: float = 0.1, img_size: int | None = None, min_face_size: int = 20,
                 max_frames: int | None = None, resize: int | None = None) -> None:
        self.device = resolve_device(device)
        if isinstance(checkpoint, nn.Module):
            model, self.info = checkpoint, CheckpointInfo.from_module(checkpoint)
        else:
            model, self.info = load_model_checkpoint(checkpoint)
        self.model = model.to(self.device).eval()
        self.task: str = self.info.task
        spec = self.info.input_spec
        self.img_size = int(img_size or (spec.img_size if spec else self.info.model_config.get("img_size")) or 224)
        self.resize = int(resize) if resize else self.info.resize
        if self.resize is not None and self.resize <= self.img_size:
            if resize:
                raise ValueError(f"resize {self.resize} must exceed img_size {self.img_size}")
            self.resize = None  # a recipe's resize for another img_size: plain resizing
        self.detect, self.batch_size, self.face_threshold = detect, int(batch_size), float(face_threshold)
        self.fps, self.max_frames, self.margin, self.min_face_size = fps, max_frames, margin, min_face_size
        self._aligner = None
        #: the dataset the checkpoint's run trained on (its input spec's ``dataset``), if known
        self.trained_on: str | None = spec.dataset if spec else None
        #: per-channel ``(mean, std)`` of the model's input normalisation (its input spec's; ImageNet's)
        self.normalisation: tuple[tuple[float, ...], tuple[float, ...]] = (
            (tuple(spec.mean), tuple(spec.std)) if spec else (IMAGENET_MEAN, IMAGENET_STD))
        #: ``(input, frame, face) -> (img_size, img_size, 3)`` uint8: the pixels the model saw, kept
        #: by ``predict(..., keep_crops=True)`` for image inputs (``afg predict --plot``)
        self.crops: dict[tuple[str, int, int], np.ndarray] = {}
        self.label_names: list[str] = self.info.columns
        #: column -> readable name for plot labels (FACS names of AU columns)
        self.label_descriptions: dict[str, str] = self.info.column_descriptions()

    # -- helpers ---------------------------------------------------------------------------
    @property
    def aligner(self):
        if self._aligner is None:
            self._aligner = FaceAligner(size=self.resize or self.img_size, margin=self.margin, device=self.device,
                                        batch_size=self.batch_size, min_face_size=self.min_face_size)
        return self._aligner

    @property
    def output_columns(self) -> list[str]:
        """The prediction columns this model adds to the table."""
        if self.task == "expression":
            cols = list(self.label_names) + ["expression"]
            if self._has_va():
                cols += ["valence", "arousal"]
            return cols
        return list(self.label_names)

    def _has_va(self) -> bool:
        cfg = self.info.model_config
        return bool(cfg.get("va")) or cfg.get("name") == "emotion_gcn"

    @property
    def synthetic_only(self) -> bool:
        """The checkpoint's run trained on synthetic faces only (``data.dataset: synthetic``)."""
        return self.trained_on == "synthetic"

    def model_view(self, crop: np.ndarray) -> np.ndarray:
        """The ``(img_size, img_size, 3)`` uint8 pixels the model sees of an aligned crop: resized to
        ``resize`` (else ``img_size``), then its centre ``img_size`` crop (as :meth:`predict_crops`)."""
        side = self.resize or self.img_size
        if crop.shape[0] != side or crop.shape[1] != side:
            crop = np.asarray(Image.fromarray(crop).resize((side, side), Image.Resampling.BILINEAR))
        top = (side - self.img_size) // 2
        return np.array(crop[top:top + self.img_size, top:top + self.img_size])

    @torch.no_grad()
    def predict_crops(self, crops: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """Model outputs for aligned ``(S, S, 3)`` uint8 crops (resized to ``img_size``, or to
        ``resize`` and centre-cropped to ``img_size``)."""
        side = self.resize or self.img_size
        centre = FaceAugment(crop=self.img_size if self.resize else None, train=False)  # as validation
        mean, std = (torch.tensor(v).view(3, 1, 1) for v in self.normalisation)
        rows: list[dict[str, float]] = []
        for chunk in batched(crops, self.batch_size):
            ims = []
            for c in chunk:
                if c.shape[0] != side or c.shape[1] != side:
                    c = np.asarray(Image.fromarray(c).resize((side, side), Image.Resampling.BILINEAR))
                image = (to_tensor(np.array(c), normalize=False) - mean) / std  # writable copy
                ims.append(centre({"image": image})["image"])
            x = torch.stack(ims).to(self.device)
            out = self.model(x)
            rows.extend(self._decode(out, len(chunk)))
        return rows

    def _decode(self, out: dict[str, torch.Tensor], b: int) -> list[dict[str, float]]:
        names = self.label_names
        if self.task == "au":
            p = out["au"].float().cpu().numpy()
            return [dict(zip(names, map(float, r))) for r in p]
        if self.task == "multilabel":
            p = torch.sigmoid(out["emotions"].float()).cpu().numpy()
            return [dict(zip(names, map(float, r))) for r in p]
        if self.task == "expression":
            p = torch.softmax(out["expression"].float(), -1).cpu().numpy()
            va = out.get("va")
            va = va.float().cpu().numpy() if va is not None else None
            rows = []
            for i, r in enumerate(p):
                row: dict[str, Any] = dict(zip(names, map(float, r)))
                row["expression"] = names[int(r.argmax())] if len(names) == len(r) else int(r.argmax())
                if va is not None:
                    row["valence"], row["arousal"] = float(va[i, 0]), float(va[i, 1])
                rows.append(row)
            return rows
        raise ValueError(f"unknown task {self.task!r}")

    # -- main entry ------------------------------------------------------------------------
    def predict(self, inputs: Any, detect: bool | None = None, progress: bool = False,
                keep_crops: bool = False) -> pd.DataFrame:
        """One row per detected face (or per input/frame without one); see the module doc.

        ``inputs``: a path (image, video or folder), a PIL image, an ``(H, W[, C])`` array, a
        ``(T, H, W, C)`` array of frames, or a list mixing them. ``keep_crops``: keep what the
        model saw of each face of an image (not of video frames) in :attr:`crops`.
        """
        detect = self.detect if detect is None else detect
        records: list[dict[str, Any]] = []
        self.crops = {}
        with bar(desc="predict", enabled=progress, unit="frame", leave=False) as pbar:
            for chunk in batched(iter_frames(inputs, self.fps, self.max_frames), self.batch_size):
                records.extend(self._rows(chunk, detect, keep_crops))
                pbar.update(len(chunk))
        return self._table(records)

    __call__ = predict

    def _faces(self, images: list[np.ndarray], detect: bool) -> tuple[list[list[dict[str, Any]]], list[np.ndarray]]:
        """Per image its face records (``face`` index, box, score; faces above ``face_threshold``
        from left to right), and the crops fed to the model, one per record in the same order.
        Without ``detect`` the whole image is the face."""
        if not detect:
            faces = [[{"face": 0, "FaceRectX": 0.0, "FaceRectY": 0.0, "FaceRectWidth": float(im.shape[1]),
                       "FaceRectHeight": float(im.shape[0]), "FaceScore": float("nan")}] for im in images]
            return faces, list(images)
        faces, crops = [], []
        for im, (boxes, scores, points) in zip(images, self.aligner.detect(images) if images else []):
            keep = [i for i in range(len(boxes)) if scores[i] >= self.face_threshold]
            recs = []
            for f, i in enumerate(sorted(keep, key=lambda i: (boxes[i][0], boxes[i][1]))):
                x1, y1, x2, y2 = (float(v) for v in boxes[i])
                recs.append({"face": f, "FaceRectX": x1, "FaceRectY": y1, "FaceRectWidth": x2 - x1,
                             "FaceRectHeight": y2 - y1, "FaceScore": float(scores[i])})
                crops.append(self.aligner.align_points(im, points[i])["image"])
            faces.append(recs)
        return faces, crops

    def _rows(self, chunk: list[Frame], detect: bool, keep_crops: bool = False) -> list[dict[str, Any]]:
        """The table rows of a batch of frames: one per face, else one status row per frame
        (``unreadable``, ``no_face``, or ``error`` for every frame of a batch that failed)."""
        good = [j for j, fr in enumerate(chunk) if isinstance(fr.image, np.ndarray)]
        try:
            faces, crops = self._faces([chunk[j].image for j in good], detect)
            owners = [rec for recs in faces for rec in recs]
            if keep_crops:
                keys = [(chunk[j].input, int(chunk[j].index), rec["face"]) for j, recs in zip(good, faces)
                        for rec in recs if not np.isfinite(chunk[j].time_s)]  # images, not video frames
                self.crops.update(zip(keys, map(self.model_view, crops)))
            for rec, pred in zip(owners, self.predict_crops(crops)):
                rec.update(pred, status="ok", reason="")
            per_frame, error = dict(zip(good, faces)), None
        except Exception as exc:  # noqa: BLE001 - a bad batch becomes status rows, not a crash
            per_frame = {}
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        rows: list[dict[str, Any]] = []
        for j, fr in enumerate(chunk):
            base = {"input": fr.input, "frame": int(fr.index), "time_s": fr.time_s}
            if not isinstance(fr.image, np.ndarray):
                rows.append({**base, "status": "unreadable", "reason": str(fr.image)})
            elif error is not None:
                rows.append({**base, "status": "error", "reason": error})
            elif not per_frame.get(j):
                rows.append({**base, "status": "no_face", "reason": "no face detected"})
            else:
                rows.extend({**base, **rec} for rec in per_frame[j])
        return rows

    def _table(self, records: list[dict[str, Any]]) -> pd.DataFrame:
        timed = any(np.isfinite(r.get("time_s", np.nan)) for r in records)  # a video file was read
        cols = ["input", "frame", *(["time_s"] if timed else []), "face", *FACE_COLUMNS,
                *self.output_columns, "status", "reason"]
        df = pd.DataFrame.from_records(records, columns=cols)
        df["frame"] = df["frame"].astype("int64")
        df["face"] = df["face"].astype("Int64")
        num = [c for c in FACE_COLUMNS + self.output_columns if c != "expression"]
        num += ["time_s"] if timed else []
        df[num] = df[num].astype(float)
        df.attrs.update(task=self.task, label_names=list(self.label_names),
                        label_descriptions=dict(self.label_descriptions),
                        checkpoint=self.info.path, trained_on=self.trained_on)
        return df

    def __repr__(self) -> str:
        cfg = self.info.model_config
        return (f"Predictor({cfg.get('name')!r}, task={self.task!r}, labels={len(self.label_names)}, "
                f"img_size={self.img_size}, device={str(self.device)!r})")

