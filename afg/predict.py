"""Inference on new images and videos: ``Predictor(checkpoint).predict(inputs) -> DataFrame``.

>>> p = Predictor("runs/me_graphau-1a2b3c/stage2-stage2/best.pt")    # or the run folder
>>> df = p.predict(["photo.jpg", "folder/", "clip.mp4", pil_image, array])
>>> df[["input", "frame", "FaceRectX", "FaceScore", "AU01", "AU12", "status"]]

Checkpoints are read with ``torch.load(weights_only=True)`` only — a downloaded file is never
unpickled into arbitrary objects (:func:`afg.train.checkpoint.load_checkpoint`, which also reads
``.safetensors``). Two kinds are understood:

* afg checkpoints (``afg-checkpoint-v1``, written by :func:`afg.train.fit`, or their
  ``.safetensors`` export by :func:`afg.export.export_safetensors`): the model is rebuilt
  from ``model_config`` with :func:`afg.models.model_from_config` and loaded strictly;
* the authors' ME-GraphAU (``MEFARG``) checkpoints (12 AUs = BP4D, 8 = DISFA order) and their
  OpenGraphAU checkpoints (41 AUs: ``AU01 … AU39``, then ``AUL1, AUR1, …, AUR14``), converted by
  :func:`afg.compat.model_from_official_checkpoint`. For OpenGraphAU the face is aligned at 256 px
  and its centre 224 px crop is fed to the model (their evaluation: shorter side 256, centre
  crop 224, ImageNet statistics).

Pipeline: every input becomes frames (images; folders in sorted order; videos sampled at
``fps`` frames per second with OpenCV, else PyAV); frames are detected in batches with MTCNN
(:class:`afg.data.faces.FaceAligner`), *every* face above ``face_threshold`` is aligned with the
same 5-point similarity transform used by ``afg prepare`` to the model's ``img_size`` and the
crops go through the model in batches. ``detect=False`` skips detection for inputs that are
already aligned face crops (e.g. synthetic faces): the whole image is resized to ``img_size``.

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

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .train.checkpoint import CheckpointError, load_checkpoint  # the one weights-only loader

__all__ = [
    "FACE_COLUMNS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "CheckpointError",
    "Predictor",
    "load_model_checkpoint",
    "read_video_frames",
    "resolve_checkpoint",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
FACE_COLUMNS = ["FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore"]

#: label names of the authors' ME-GraphAU checkpoints by number of AUs
_OFFICIAL_AUS = {
    12: (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),  # BP4D
    8: (1, 2, 4, 6, 9, 12, 25, 26),  # DISFA
}


# ------------------------------------------------------------------------------ checkpoints
def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A ``.pt`` file, or a run folder → the checkpoint of its last stage (``best.pt``, else
    ``last.pt``)."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        stages = sorted(d for d in p.glob("stage*-*") if d.is_dir())
        for d in ([stages[-1]] if stages else []) + [p]:
            for name in ("best.pt", "last.pt"):
                if (d / name).is_file():
                    return d / name
        raise CheckpointError(f"{p}: folder holds no best.pt or last.pt (not a finished run folder)")
    raise CheckpointError(f"{p}: checkpoint not found")


def _au_names_from_metrics(metrics: Any, n: int) -> list[str] | None:
    if not isinstance(metrics, dict):
        return None
    names = [k.split("/", 1)[1] for k in metrics if isinstance(k, str) and k.startswith("f1/")]
    return names if len(names) == n else None


def _looks_official(sd: dict) -> bool:
    """An authors' ``MEFARG`` state dict: ME-GraphAU (``head.sc``) or OpenGraphAU
    (``head.main_sc``)."""
    keys = [k.removeprefix("module.") for k in sd if isinstance(k, str)]
    me_graphau = "head.sc" in keys and any(k.startswith("head.class_linears.") for k in keys)
    return me_graphau or ("head.main_sc" in keys and "head.sub_sc" in keys)


def load_model_checkpoint(path: str | os.PathLike, map_location: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(model in eval mode, info)`` from an afg or an authors' ME-GraphAU checkpoint.

    ``info``: ``kind`` (``afg``/``official``), ``path``, ``task``, ``label_names``,
    ``model_config``, ``stage``; OpenGraphAU checkpoints add ``resize`` (256: the face is aligned
    at 256 px and its centre 224 px fed to the model), ``label_descriptions`` and ``source``.
    Raises :class:`CheckpointError` with a one-line reason.
    """
    file = resolve_checkpoint(path)
    extra: dict[str, Any] = {}  # OpenGraphAU: resize, label_descriptions, source
    ck = load_checkpoint(file, map_location=map_location)  # weights_only=True; one-line CheckpointError
    if not isinstance(ck, dict):
        raise CheckpointError(f"{file}: expected a dict checkpoint, got {type(ck).__name__}")
    if isinstance(ck.get("model_config"), dict) and isinstance(ck.get("model"), dict):
        from .models import model_from_config

        cfg = dict(ck["model_config"])
        try:
            model = model_from_config(cfg)
            model.load_state_dict(ck["model"], strict=True)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0][:200]
            raise CheckpointError(f"{file}: cannot rebuild model {cfg.get('name')!r} ({first})") from None
        task = ck.get("task") or getattr(model, "task", "au")
        names = ck.get("label_names") or getattr(model, "label_names", None)
        n = int(cfg.get("num_classes", 0))
        if not names and task == "au":
            names = _au_names_from_metrics(ck.get("metrics"), n) or _au_names_from_metrics(
                (ck.get("best") or {}).get("metrics"), n)
        kind = "afg"
        stage = ck.get("stage")
        # a .safetensors export carries what the run folder would tell (afg.export)
        extra = {k: ck[k] for k in ("resize", "label_descriptions") if ck.get(k)}
    else:
        sd = ck
        for key in ("state_dict", "model", "net"):
            if isinstance(sd.get(key), dict):
                sd = sd[key]
        if not _looks_official(sd):
            raise CheckpointError(f"{file}: neither an afg checkpoint (no model_config) nor an "
                                  "ME-GraphAU / OpenGraphAU (MEFARG) state dict")
        from .compat import model_from_official_checkpoint
        from .compat.opengraphau import OPENGRAPHAU_RESIZE, is_opengraphau_state_dict

        ogau = is_opengraphau_state_dict(sd)
        try:
            model = model_from_official_checkpoint(sd)
        except (KeyError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0][:200]
            what = "OpenGraphAU" if ogau else "ME-GraphAU"
            raise CheckpointError(f"{file}: {what} checkpoint not understood ({first})") from None
        cfg = dict(getattr(model, "model_config", {}) or {})
        n = int(cfg.get("num_classes", 0))
        task = "au"
        names = getattr(model, "label_names", None) or (
            [f"AU{a:02d}" for a in _OFFICIAL_AUS[n]] if n in _OFFICIAL_AUS else None)
        kind, stage = "official", 2 if cfg.get("name") == "me_graphau" else 1
        if ogau:  # OpenGraphAU's evaluation transform: shorter side 256, centre crop 224
            extra = {"resize": OPENGRAPHAU_RESIZE, "label_descriptions": model.label_descriptions,
                     "source": "opengraphau"}
    if names is not None:
        names = [str(x) for x in names]
    model.eval()
    info = {"kind": kind, "path": str(file), "task": task, "label_names": names,
            "model_config": cfg, "stage": stage}
    return model, {**info, **extra}


# ------------------------------------------------------------------------------ inputs
def read_video_frames(path: str | os.PathLike, fps: float | None = 1.0,
                      max_frames: int | None = None, with_time: bool = False) -> Iterator[tuple]:
    """``(frame number, (H, W, 3) uint8 RGB)`` sampled at ``fps`` frames per second (``None``:
    every frame); with ``with_time`` ``(frame number, time in s, frame)``, the time being
    ``frame / native fps`` (NaN when the file declares no rate). OpenCV is used when installed,
    else PyAV; raises ``RuntimeError`` when the file cannot be opened or no reader is installed."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise RuntimeError(f"{path}: OpenCV cannot open the video")
        native = cap.get(cv2.CAP_PROP_FPS) or 0.0
        step = 1 if not fps or native <= 0 else max(1, round(native / fps))
        i = kept = 0
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                if i % step == 0:
                    rgb = np.ascontiguousarray(frame[..., ::-1])  # BGR → RGB
                    t = i / native if native > 0 else float("nan")
                    yield (i, t, rgb) if with_time else (i, rgb)
                    kept += 1
                    if max_frames is not None and kept >= max_frames:
                        break
                i += 1
        finally:
            cap.release()
        if i == 0 and kept == 0:
            raise RuntimeError(f"{path}: no decodable frame")
        return
    try:
        import av
    except ImportError:
        raise RuntimeError("reading videos needs OpenCV (opencv-python) or PyAV (av)") from None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        native = float(stream.average_rate or 0)
        step = 1 if not fps or native <= 0 else max(1, round(native / fps))
        kept = 0
        for i, frame in enumerate(container.decode(stream)):
            if i % step == 0:
                rgb = frame.to_ndarray(format="rgb24")
                t = i / native if native > 0 else float("nan")
                yield (i, t, rgb) if with_time else (i, rgb)
                kept += 1
                if max_frames is not None and kept >= max_frames:
                    break


def _expand_path(p: Path) -> list[Path]:
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")
                      and f.suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
    return [p]


def _frames(inputs: Any, fps: float | None,
            max_frames: int | None) -> Iterator[tuple[str, int, float, Any]]:
    """``(input label, frame, time in s, image | Exception)`` for every frame of every input (the
    time is NaN for images and for arrays of frames, whose rate is unknown)."""
    nan = float("nan")
    from PIL import Image

    from .data.faces import load_input

    if isinstance(inputs, (str, os.PathLike, Image.Image, np.ndarray, torch.Tensor)):
        inputs = [inputs]
    for k, item in enumerate(inputs):
        if isinstance(item, (str, os.PathLike)):
            p = Path(item)
            if not p.exists():
                yield str(item), 0, nan, FileNotFoundError(f"{item}: no such file or folder")
                continue
            for f in _expand_path(p):
                if f.suffix.lower() in VIDEO_EXTENSIONS:
                    try:
                        got = False
                        for i, t, frame in read_video_frames(f, fps, max_frames, with_time=True):
                            got = True
                            yield str(f), i, t, frame
                        if not got:
                            yield str(f), 0, nan, ValueError(f"{f}: no frames")
                    except (RuntimeError, OSError, ValueError) as exc:
                        yield str(f), 0, nan, exc
                else:
                    try:
                        yield str(f), 0, nan, load_input(str(f))
                    except (OSError, ValueError, TypeError) as exc:
                        yield str(f), 0, nan, exc
            continue
        if isinstance(item, torch.Tensor):
            item = item.detach().cpu().numpy()
        label = f"<{type(item).__name__} {k}>"
        if isinstance(item, np.ndarray) and item.ndim == 4:  # (T, H, W, C) frames of a video
            for i, frame in enumerate(item):
                try:
                    yield label, i, nan, load_input(frame)
                except (OSError, ValueError, TypeError) as exc:
                    yield label, i, nan, exc
            continue
        try:
            yield label, 0, nan, load_input(item)
        except (OSError, ValueError, TypeError) as exc:
            yield label, 0, nan, exc


def _chunks(it: Iterable[Any], n: int) -> Iterator[list[Any]]:
    buf: list[Any] = []
    for x in it:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


def _recipe_resize(checkpoint: str | os.PathLike | None) -> int | None:
    """``data.resize`` of the run that wrote ``checkpoint`` (its ``config.yaml`` sits in the run
    folder, one level up for a stage sub-folder), or ``None``."""
    if checkpoint is None:
        return None
    import yaml

    here = Path(checkpoint).parent
    for folder in (here, here.parent):
        f = folder / "config.yaml"
        if f.is_file():
            try:
                data = (yaml.safe_load(f.read_text()) or {}).get("data") or {}
            except (OSError, yaml.YAMLError, AttributeError):
                return None
            r = data.get("resize") if isinstance(data, dict) else None
            return int(r) if r else None
    return None


def _descriptions(names: Sequence[str], given: dict[str, str] | None) -> dict[str, str]:
    """``given`` where it names a column, else the FACS name of AU columns, else the column."""
    from .data.au_names import au_name

    out = {}
    for c in names:
        try:
            out[c] = (given or {}).get(c) or au_name(c)
        except ValueError:
            out[c] = c
    return out


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
        img_size: crop size fed to the model (default: the checkpoint's ``img_size``).
        resize: faces are aligned at ``resize`` px and their centre ``img_size`` crop is fed to the
            model — the test-time half of a recipe that trains on random ``img_size`` crops of
            ``resize`` px faces (``data.resize``, e.g. 256 → 224 in ME-GraphAU / Li et al.).
            Default: 256 for OpenGraphAU checkpoints, else ``data.resize`` of the run's
            ``config.yaml`` next to the checkpoint, else none.
        min_face_size: MTCNN's smallest face in pixels.
    """

    def __init__(self, checkpoint: Any, device: str | torch.device = "auto", detect: bool = True,
                 batch_size: int = 16, face_threshold: float = 0.9, fps: float | None = 1.0,
                 margin: float = 0.1, img_size: int | None = None, min_face_size: int = 20,
                 max_frames: int | None = None, resize: int | None = None) -> None:
        from .utils import resolve_device

        self.device = resolve_device(device)
        if isinstance(checkpoint, nn.Module):
            model = checkpoint
            cfg = dict(getattr(model, "model_config", None) or {})
            self.info = {"kind": "module", "path": None, "task": getattr(model, "task", "au"),
                         "label_names": getattr(model, "label_names", None), "model_config": cfg,
                         "stage": None, "resize": getattr(model, "eval_resize", None)}
        else:
            model, self.info = load_model_checkpoint(checkpoint)
        self.model = model.to(self.device).eval()
        cfg = self.info["model_config"]
        self.task: str = self.info["task"]
        self.img_size = int(img_size or cfg.get("img_size") or 224)
        self.resize = int(resize) if resize else (self.info.get("resize")
                                                  or _recipe_resize(self.info.get("path")))
        if self.resize is not None and self.resize <= self.img_size:
            if resize:
                raise ValueError(f"resize {self.resize} must exceed img_size {self.img_size}")
            self.resize = None
        self.detect, self.batch_size, self.face_threshold = detect, int(batch_size), float(face_threshold)
        self.fps, self.max_frames, self.margin, self.min_face_size = fps, max_frames, margin, min_face_size
        self._aligner = None
        n = int(cfg.get("num_classes") or 0) + len(cfg.get("sub_nodes") or ()) or None  # + sub-AUs
        names = self.info.get("label_names")
        if not names:
            prefix = {"au": "AU", "expression": "class", "multilabel": "label"}.get(self.task, "out")
            names = [f"{prefix}{i:02d}" if prefix == "AU" else f"{prefix}{i}" for i in range(n or 0)]
        self.label_names: list[str] = list(names)
        #: column -> readable name for plot labels (FACS names of AU columns)
        self.label_descriptions: dict[str, str] = _descriptions(
            self.label_names, self.info.get("label_descriptions")
            or getattr(model, "label_descriptions", None))

    # -- helpers ---------------------------------------------------------------------------
    @property
    def aligner(self):
        if self._aligner is None:
            from .data.faces import FaceAligner

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
        cfg = self.info["model_config"]
        return bool(cfg.get("va")) or cfg.get("name") == "emotion_gcn"

    @torch.no_grad()
    def predict_crops(self, crops: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """Model outputs for aligned ``(S, S, 3)`` uint8 crops (resized to ``img_size``, or to
        ``resize`` and centre-cropped to ``img_size``)."""
        from PIL import Image

        from .data.augment import FaceAugment
        from .data.transforms import to_tensor

        side = self.resize or self.img_size
        centre = FaceAugment(crop=self.img_size if self.resize else None, train=False)  # as validation
        rows: list[dict[str, float]] = []
        for chunk in _chunks(crops, self.batch_size):
            ims = []
            for c in chunk:
                if c.shape[0] != side or c.shape[1] != side:
                    c = np.asarray(Image.fromarray(c).resize((side, side), Image.Resampling.BILINEAR))
                ims.append(centre({"image": to_tensor(np.array(c))})["image"])  # writable copy
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
    def predict(self, inputs: Any, detect: bool | None = None, progress: bool = False) -> pd.DataFrame:
        """One row per detected face (or per input/frame without one); see the module doc.

        ``inputs``: a path (image, video or folder), a PIL image, an ``(H, W[, C])`` array, a
        ``(T, H, W, C)`` array of frames, or a list mixing them.
        """
        from tqdm.auto import tqdm

        detect = self.detect if detect is None else detect
        records: list[dict[str, Any]] = []
        pbar = tqdm(desc="predict", unit="frame", disable=not progress, leave=False)
        for chunk in _chunks(_frames(inputs, self.fps, self.max_frames), self.batch_size):
            good = [(j, im) for j, (_, _, _, im) in enumerate(chunk) if isinstance(im, np.ndarray)]
            per_frame: dict[int, list[dict[str, Any]]] = {}
            crops: list[np.ndarray] = []
            owners: list[dict[str, Any]] = []
            try:
                if detect:
                    found = self.aligner.detect([im for _, im in good]) if good else []
                    for (j, im), (boxes, scores, points) in zip(good, found):
                        keep = [i for i in range(len(boxes)) if scores[i] >= self.face_threshold]
                        faces = []
                        for f, i in enumerate(sorted(keep, key=lambda i: (boxes[i][0], boxes[i][1]))):
                            r = self.aligner.align_points(im, points[i])
                            x1, y1, x2, y2 = (float(v) for v in boxes[i])
                            rec = {"face": f, "FaceRectX": x1, "FaceRectY": y1, "FaceRectWidth": x2 - x1,
                                   "FaceRectHeight": y2 - y1, "FaceScore": float(scores[i])}
                            faces.append(rec)
                            crops.append(r["image"])
                            owners.append(rec)
                        per_frame[j] = faces
                else:
                    for j, im in good:
                        h, w = im.shape[:2]
                        rec = {"face": 0, "FaceRectX": 0.0, "FaceRectY": 0.0, "FaceRectWidth": float(w),
                               "FaceRectHeight": float(h), "FaceScore": float("nan")}
                        per_frame[j] = [rec]
                        crops.append(im)
                        owners.append(rec)
                for rec, pred in zip(owners, self.predict_crops(crops)):
                    rec.update(pred, status="ok", reason="")
                error = None
            except Exception as exc:  # noqa: BLE001 - a bad batch becomes status rows, not a crash
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
            for j, (label, frame, t, im) in enumerate(chunk):
                base = {"input": label, "frame": int(frame), "time_s": t}
                if not isinstance(im, np.ndarray):
                    records.append({**base, "status": "unreadable", "reason": str(im)})
                elif error is not None:
                    records.append({**base, "status": "error", "reason": error})
                elif not per_frame.get(j):
                    records.append({**base, "status": "no_face", "reason": "no face detected"})
                else:
                    records.extend({**base, **rec} for rec in per_frame[j])
            pbar.update(len(chunk))
        pbar.close()
        return self._table(records)

    __call__ = predict

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
                        checkpoint=self.info.get("path"))
        return df

    def __repr__(self) -> str:
        cfg = self.info["model_config"]
        return (f"Predictor({cfg.get('name')!r}, task={self.task!r}, labels={len(self.label_names)}, "
                f"img_size={self.img_size}, device={str(self.device)!r})")

