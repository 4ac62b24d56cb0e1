"""Prepare a release once: detect, align and write every face, with a manifest.

``prepare_dataset(adapter, out_dir)`` writes

- ``faces/<source path relative to the release root>.jpg``: the aligned ``size × size`` crops
  (written under a temporary name, then renamed: a kill never leaves a truncated image);
- ``manifest.csv``: one row per record — ``record`` (position in ``adapter.records``),
  ``source``, ``aligned`` (relative to ``out_dir``), ``status`` (``ok``/``no_face``/
  ``unreadable``), ``reason``, ``subject``, ``split``/``fold``/``frame``/``video`` when the
  release has them, the label columns (NaN = missing), ``mask`` (one 0/1 character per label
  column), ``box_x1 … box_y2``, ``score``, ``lm{k}_x``, ``lm{k}_y`` (5 points in crop pixels) and
  ``landmarks68`` (``;``-joined crop-pixel coordinates when the release ships 68 points);
- ``failures.csv``: ``source``, ``status``, ``reason`` of every image that produced no face
  (plus images listed in the labels but absent on disk);
- ``prepare.json``: the label names, sizes and counts that ``FaceDataset`` reads back;
- ``.prepare_journal.jsonl``: the append-only log that makes the run resumable: on a rerun,
  sources whose log entry says ``ok``, whose aligned file exists and whose crop ``size`` and
  ``margin`` (recorded in the entry) equal this run's are skipped, as are recorded failures
  (unless ``retry_failed``); everything else (deleted outputs, crops of another size or margin:
  a rerun with a new ``--size`` re-aligns them, saying so) is redone.

``prepare_main(dataset_name, root, out, ...)`` is what ``afg prepare DATASET --root RAW --out OUT``
calls.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..utils import atomic_save_json, atomic_write_text, resolve_device
from .datasets import get_adapter
from .faces import FaceAligner, apply_transform, landmarks68_to_5
from .image_io import UnreadableImageError, read_image, write_image
from .manifest import read_manifest, relative_source

__all__ = ["JOURNAL_NAME", "prepare_dataset", "prepare_main", "read_manifest"]

JOURNAL_NAME = ".prepare_journal.jsonl"
_META_COLUMNS = ("split", "fold", "frame", "video", "task")


def _aligned_name(rel_source: str, image_format: str) -> str:
    p = Path(rel_source)
    return (Path("faces") / p.parent / f"{p.stem}.{image_format}").as_posix()


def _load_journal(path: Path) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return entries
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            if isinstance(e, dict) and "source" in e:
                entries[e["source"]] = e
    return entries


def _read_batch(paths: list[str]) -> list[np.ndarray | str]:
    out: list[np.ndarray | str] = []
    for p in paths:
        try:
            out.append(read_image(p))
        except UnreadableImageError as exc:
            out.append(str(exc))
    return out


def prepare_dataset(adapter: Any, out_dir: str | os.PathLike, size: int = 256, batch_size: int = 32,
                    resume: bool = True, margin: float = 0.1, device: str = "cpu",
                    image_format: str = "jpg", quality: int = 95, use_landmarks: bool | str = "auto",
                    retry_failed: bool = False, progress: bool = True, limit: int | None = None,
                    aligner: FaceAligner | None = None, verbose: bool = True) -> dict[str, Any]:
    """Detect, align and write every face of ``adapter`` (see the module doc for the outputs).

    Three steps: the journal says which sources are still to do (:class:`_Journal`), the aligned
    batches of those are written and journalled (:func:`_aligned_batches`), and the summary writes
    the manifest, the failures and ``prepare.json`` (:func:`_write_summary`).

    Args:
        adapter: a release adapter (``.records`` with ``image``, ``subject`` and labels; ``.root``).
        size, margin: output crop size and template margin (``afg.data.faces``).
        batch_size: frames per MTCNN call; ``device``: ``cpu``/``cuda``/``auto``.
        resume: skip sources already done by an earlier (possibly killed) run.
        use_landmarks: align with landmarks shipped by the release (AffectNet) instead of MTCNN
            (``"auto"``: when the release has them).
        limit: prepare only the first ``limit`` distinct images (smoke runs).
    Returns:
        summary dict: ``total``, ``ok``, ``no_face``, ``unreadable``, ``missing``, ``skipped``
        (done earlier), ``processed``, ``seconds``, ``faces_per_second``, ``out_dir``.
    """
    from tqdm.auto import tqdm  # local: tqdm's import is only paid when preparing

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(getattr(adapter, "root", "."))
    records: pd.DataFrame = adapter.records
    aligner = aligner or FaceAligner(size=size, margin=margin, device=device, batch_size=batch_size)
    geometry = (int(aligner.size), float(aligner.margin))

    sources = records["image"].astype(str).tolist()
    rel = {s: relative_source(s, root) for s in dict.fromkeys(sources)}
    unique = list(rel)[:limit] if limit is not None else list(rel)  # distinct sources in record order

    journal = _Journal.open(out, resume)
    todo = journal.todo(unique, rel, out, geometry, retry_failed, verbose)
    want_lm = use_landmarks is True or (use_landmarks == "auto" and _has_landmarks(adapter))
    lm_rows = _release_landmarks(adapter, records, todo) if want_lm and todo else {}

    counts = {"ok": 0, "no_face": 0, "unreadable": 0}
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc=f"prepare {getattr(adapter, 'name', 'images')}",
               unit="img", disable=not progress)
    with open(journal.path, "a", encoding="utf-8") as jf:
        for batch, results in _aligned_batches(todo, batch_size, aligner, lm_rows):
            entries = [_journal_entry(rel[src], r, image_format, geometry) for src, r in zip(batch, results)]
            for entry, r in zip(entries, results):
                if r["status"] == "ok":
                    write_image(out / entry["aligned"], r["image"], quality=quality)
                counts[r["status"]] = counts.get(r["status"], 0) + 1
            journal.record(jf, entries)
            bar.update(len(batch))
            bar.set_postfix(ok=counts["ok"], failed=counts["no_face"] + counts["unreadable"])
    bar.close()
    run = {"skipped": len(unique) - len(todo), "processed": len(todo), "processed_counts": counts,
           "seconds": time.perf_counter() - t0}
    return _write_summary(adapter, out, rel, journal.entries, unique, run, aligner, image_format, verbose)


class _Journal:
    """The append-only preparation journal of one output folder: what an earlier (possibly killed)
    run did, one JSON line per source, read back on a rerun to resume."""

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self.entries = entries  # relative source -> its latest entry

    @classmethod
    def open(cls, out: Path, resume: bool) -> _Journal:
        """The journal of ``out`` (emptied first unless ``resume``)."""
        path = out / JOURNAL_NAME
        if not resume and path.exists():
            path.unlink()
        return cls(path, _load_journal(path))

    def todo(self, unique: list[str], rel: dict[str, str], out: Path, geometry: tuple[int, float],
             retry_failed: bool, verbose: bool) -> list[str]:
        """Sources of ``unique`` still to do: not journalled, journalled ``ok`` but with another
        crop geometry (said when ``verbose``) or a missing aligned file, and, with ``retry_failed``,
        the recorded failures."""
        # journals written before entries carried their geometry: the folder's prepare.json says it
        old_meta = _read_meta(out / "prepare.json")
        stale: dict[tuple[Any, Any], int] = {}

        def done(src: str) -> bool:
            e = self.entries.get(rel[src])
            if e is None:
                return False
            if e["status"] == "ok":
                made = _entry_geometry(e, old_meta)
                if made != geometry:
                    stale[made] = stale.get(made, 0) + 1
                    return False
                return (out / e["aligned"]).is_file()
            return not retry_failed

        todo = [s for s in unique if not done(s)]
        if stale and verbose:
            was = "; ".join(f"{n} at size {a}, margin {b}" for (a, b), n in stale.items())
            print(f"{out}: {sum(stale.values())} faces were prepared with another crop geometry ({was}); "
                  f"re-aligning them at size {geometry[0]}, margin {geometry[1]:g}")
        return todo

    def record(self, fh: Any, entries: list[dict[str, Any]]) -> None:
        """Append ``entries`` (one batch) to the open journal file ``fh`` and flush it."""
        for e in entries:
            self.entries[e["source"]] = e
        fh.write("\n".join(json.dumps(e) for e in entries) + "\n")
        fh.flush()


def _release_landmarks(adapter: Any, records: pd.DataFrame, todo: list[str]) -> dict[str, np.ndarray | None]:
    """Source -> the landmarks the release ships for it (first record of each source)."""
    first = records.drop_duplicates("image").set_index("image")
    sub = first.loc[list(todo)].reset_index()
    return dict(zip(sub["image"], adapter.source_landmarks(sub)))


def _aligned_batches(todo: list[str], batch_size: int, aligner: FaceAligner,
                     lm_rows: dict[str, np.ndarray | None]) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """``(sources, results)`` per batch of ``batch_size`` sources, in order. The next batch is
    decoded in a background thread while this one is aligned; a source is aligned with the
    release's landmarks when ``lm_rows`` has them, else detected (MTCNN, one call per batch);
    an unreadable image gives ``{"status": "unreadable", "reason": ...}``."""
    step = max(1, batch_size)
    batches = [todo[i:i + step] for i in range(0, len(todo), step)]
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_read_batch, batches[0]) if batches else None
        for bi, batch in enumerate(batches):
            decoded = pending.result()
            pending = pool.submit(_read_batch, batches[bi + 1]) if bi + 1 < len(batches) else None
            results: list[dict[str, Any] | None] = [None] * len(batch)
            detect_idx = []
            for j, (src, im) in enumerate(zip(batch, decoded)):
                if isinstance(im, str):
                    results[j] = {"status": "unreadable", "reason": im}
                elif lm_rows.get(src) is not None:
                    results[j] = _align_provided(aligner, im, lm_rows[src])
                else:
                    detect_idx.append(j)
            if detect_idx:
                for j, r in zip(detect_idx, aligner.align([decoded[j] for j in detect_idx])):
                    results[j] = r
            yield batch, results


def _write_summary(adapter: Any, out: Path, rel: dict[str, str], journal: dict[str, dict[str, Any]],
                   unique: list[str], run: dict[str, Any], aligner: FaceAligner, image_format: str,
                   verbose: bool) -> dict[str, Any]:
    """Write ``manifest.csv``, ``failures.csv`` and ``prepare.json`` of a finished preparation,
    print one line when ``verbose``, and return the summary (``run``: skipped, processed,
    processed_counts, seconds of this run)."""
    root = Path(getattr(adapter, "root", "."))
    manifest = _build_manifest(adapter, adapter.records, rel, journal, limit_sources=set(unique))
    atomic_write_text(out / "manifest.csv", manifest.to_csv(index=False))
    failures = manifest.loc[manifest["status"] != "ok", ["source", "status", "reason"]]
    failures = failures.drop_duplicates("source")
    missing = getattr(adapter, "missing", None)
    n_missing = 0
    if missing is not None and len(missing):
        miss = pd.DataFrame({"source": [relative_source(s, root) for s in missing["image"].astype(str)],
                             "status": "unreadable", "reason": "listed in the labels but missing on disk"})
        miss = miss.drop_duplicates("source")
        n_missing = len(miss)
        failures = pd.concat([failures, miss], ignore_index=True)
    atomic_write_text(out / "failures.csv", failures.to_csv(index=False))

    status_all = manifest.drop_duplicates("source")["status"].value_counts()
    seconds, processed = run["seconds"], run["processed"]
    summary = {
        "total": len(unique),
        "ok": int(status_all.get("ok", 0)),
        "no_face": int(status_all.get("no_face", 0)),
        "unreadable": int(status_all.get("unreadable", 0)),
        "missing": n_missing,
        "skipped": run["skipped"],
        "processed": processed,
        "processed_counts": run["processed_counts"],
        "seconds": round(seconds, 3),
        "faces_per_second": round(processed / seconds, 3) if seconds > 0 and processed else None,
        "out_dir": str(out),
    }
    meta = {
        "dataset": getattr(adapter, "name", type(adapter).__name__),
        "adapter": type(adapter).__name__,
        "root": str(root),
        "size": aligner.size,
        "margin": aligner.margin,
        "image_format": image_format,
        "label_columns": list(getattr(adapter, "label_columns", [])),
        "au_names": list(getattr(adapter, "au_names", [])),
        "expression_names": list(getattr(adapter, "expression_names", [])),
        "emotion_names": list(getattr(adapter, "emotion_names", [])),
        "has_va": bool(getattr(adapter, "has_va", False)),
        "summary": summary,
    }
    atomic_save_json(out / "prepare.json", meta)
    if verbose:
        print(
            f"prepared {summary['total']} images into {out}: {summary['ok']} faces, "
            f"{summary['no_face']} without a face, {summary['unreadable']} unreadable, "
            f"{n_missing} missing; {summary['skipped']} done earlier, {processed} processed in {seconds:.1f}s"
            + (f" ({summary['faces_per_second']:.2f} img/s)" if summary["faces_per_second"] else "")
            + (f"; failures listed in {out / 'failures.csv'}" if len(failures) else "")
        )
    return summary


def _has_landmarks(adapter: Any) -> bool:
    return bool(getattr(adapter, "provides_landmarks", False))


def _align_provided(aligner: FaceAligner, image: np.ndarray, lm: np.ndarray) -> dict[str, Any]:
    lm = np.asarray(lm, dtype=np.float64)
    pts5 = landmarks68_to_5(lm) if lm.size == 136 else lm.reshape(5, 2)
    r = aligner.align_points(image, pts5)
    xy = lm.reshape(-1, 2)
    r.update(box=np.array([xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()]),
             score=float("nan"), reason="aligned with the release's landmarks")
    if lm.size == 136:
        r["landmarks68"] = apply_transform(r["transform"], xy)
    return r


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _entry_geometry(entry: dict[str, Any], old_meta: dict[str, Any]) -> tuple[Any, Any]:
    """``(size, margin)`` an ``ok`` journal entry's crop was made with: the entry's own fields,
    else (older journals) the folder's ``prepare.json``; ``(None, None)`` when unknown."""
    size = entry.get("size", old_meta.get("size"))
    margin = entry.get("margin", old_meta.get("margin"))
    if size is None or margin is None:
        return (None, None)
    return (int(size), float(margin))


def _journal_entry(rel_source: str, r: dict[str, Any], image_format: str,
                   geometry: tuple[int, float]) -> dict[str, Any]:
    e: dict[str, Any] = {"source": rel_source, "status": r["status"], "reason": r.get("reason", "")}
    if r["status"] == "ok":
        e["aligned"] = _aligned_name(rel_source, image_format)
        e["size"], e["margin"] = geometry
        e["box"] = [round(float(v), 2) for v in np.asarray(r["box"]).reshape(4)]
        s = r.get("score", float("nan"))
        e["score"] = None if s is None or not np.isfinite(s) else round(float(s), 6)
        e["landmarks"] = [round(float(v), 3) for v in np.asarray(r["landmarks"]).reshape(-1)]
        e["transform"] = [float(v) for v in np.asarray(r["transform"]).reshape(-1)]
        if r.get("landmarks68") is not None:
            e["landmarks68"] = [round(float(v), 2) for v in np.asarray(r["landmarks68"]).reshape(-1)]
    return e


def _build_manifest(adapter: Any, records: pd.DataFrame, rel: dict[str, str],
                    journal: dict[str, dict[str, Any]], limit_sources: set[str]) -> pd.DataFrame:
    keep = records["image"].astype(str).isin(limit_sources).to_numpy()
    rec = records[keep]
    label_cols = [c for c in getattr(adapter, "label_columns", []) if c in rec.columns]
    m = pd.DataFrame({"record": np.flatnonzero(keep)})
    m["source"] = [rel[s] for s in rec["image"].astype(str)]
    entries = [journal.get(s, {}) for s in m["source"]]
    m["aligned"] = [e.get("aligned", "") for e in entries]
    m["status"] = [e.get("status", "unreadable") for e in entries]
    m["reason"] = [e.get("reason", "not processed") for e in entries]
    m["subject"] = rec["subject"].astype(str).to_numpy()
    for c in _META_COLUMNS:
        if c in rec.columns:
            m[c] = rec[c].to_numpy()
    for c in label_cols:
        m[c] = rec[c].to_numpy()
    if label_cols:
        present = rec[label_cols].notna().to_numpy()
        m["mask"] = ["".join("1" if v else "0" for v in row) for row in present]
    box = np.array([e.get("box", [np.nan] * 4) for e in entries], dtype=float).reshape(-1, 4)
    for j, c in enumerate(("box_x1", "box_y1", "box_x2", "box_y2")):
        m[c] = box[:, j]
    m["score"] = [np.nan if e.get("score") is None else e["score"] for e in entries]
    lm = np.array([e.get("landmarks", [np.nan] * 10) for e in entries], dtype=float).reshape(-1, 10)
    for k in range(5):
        m[f"lm{k}_x"] = lm[:, 2 * k]
        m[f"lm{k}_y"] = lm[:, 2 * k + 1]
    if any("landmarks68" in e for e in entries):
        m["landmarks68"] = [";".join(f"{v:g}" for v in e["landmarks68"]) if "landmarks68" in e else ""
                            for e in entries]
    return m


def prepare_main(dataset_name: str, root: str | os.PathLike, out: str | os.PathLike, size: int = 256,
                 batch_size: int = 32, device: str = "auto", resume: bool = True, margin: float = 0.1,
                 progress: bool = True, limit: int | None = None, **adapter_options: Any) -> dict[str, Any]:
    """Entry point of ``afg prepare DATASET --root RAW --out OUT``: build the adapter named
    ``dataset_name`` (``afg.data.datasets.get_adapter``) and prepare it. Returns the summary."""
    adapter = get_adapter(dataset_name, root, **adapter_options)
    dev = resolve_device(device)
    return prepare_dataset(adapter, out, size=size, batch_size=batch_size, resume=resume,
                           margin=margin, device=str(dev), progress=progress, limit=limit)
