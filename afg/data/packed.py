"""Prepared faces packed once into one read-only uint8 array that every worker and rank maps.

Decoding a JPEG face per item costs more CPU than a GPU step on it (``benchmarks/loader_speed.py``),
and ``data.cache`` keeps a decoded copy per DataLoader worker. :func:`pack_prepared` decodes every
face of a prepared folder once, at the size training reads it (``data.resize``, resized exactly as
:class:`afg.data.datasets.FaceDataset` does), into

    <prepared>/packed-<size>/faces.npy   uint8 (N, size, size, 3), NumPy's .npy format
    <prepared>/packed-<size>/index.csv   row, aligned (the face's path in manifest.csv)
    <prepared>/packed-<size>/pack.json   size, count, manifest (SHA-256 of manifest.csv), filled

:class:`PackedFaces` opens ``faces.npy`` with ``numpy.load(mmap_mode="r")``: the pages live in the
operating system's page cache once, shared by every DataLoader worker and every DDP rank on the
node (a worker gets the path, never a copy of the array, when the dataset is pickled to it).

Packing is resumable: ``filled`` (rows written and flushed) is saved after every chunk, and a
rerun continues there. A pack remembers the manifest it was made from; when ``manifest.csv`` has
changed since (``afg prepare`` ran again), reading or extending it raises :class:`StalePackError`
with one line that says what to do. ``data.packed: true`` (or a folder) trains from the pack
(:func:`packed_dataset`; the run is packed first when the pack does not exist).
"""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..utils import atomic_save_json, atomic_write_text, file_sha256
from .datasets.face_dataset import FaceDataset

__all__ = ["PackedFaceDataset", "PackedFaces", "StalePackError", "manifest_digest", "pack_dir", "pack_prepared", "packed_dataset"]


class StalePackError(ValueError):
    """A pack made from another ``manifest.csv`` than the prepared folder's current one."""


def manifest_digest(prepared: str | os.PathLike) -> str:
    """SHA-256 of ``<prepared>/manifest.csv`` (what a pack was made from)."""
    p = Path(prepared) / "manifest.csv"
    if not p.is_file():
        raise FileNotFoundError(f"{p.parent} holds no manifest.csv: run `afg prepare` first")
    return file_sha256(p)


def pack_dir(prepared: str | os.PathLike, size: int | None = None) -> Path:
    """The default pack folder of a prepared folder: ``<prepared>/packed-<size>`` (``size``:
    the prepared size when ``None``)."""
    if size is None:
        meta = Path(prepared) / "prepare.json"
        size = int(json.loads(meta.read_text()).get("size", 0)) if meta.is_file() else 0
        if not size:
            raise ValueError(f"{prepared}: prepare.json does not say the face size; give size=")
    return Path(prepared) / f"packed-{int(size)}"


def _check_fresh(out: Path, prepared: Path, info: dict[str, Any]) -> None:
    now = manifest_digest(prepared)
    if info.get("manifest") != now:
        raise StalePackError(
            f"{out}: packed from an older {prepared / 'manifest.csv'} (the faces were prepared again "
            f"since); pack again with afg.data.packed.pack_prepared({str(prepared)!r}, "
            f"size={info.get('size')}, overwrite=True) or delete {out}")


def pack_prepared(prepared: str | os.PathLike, size: int | None = None, out: str | os.PathLike | None = None,
                  chunk: int = 256, overwrite: bool = False, progress: bool = True) -> Path:
    """Decode every face of ``prepared`` (``status == ok`` rows of its manifest) into one uint8
    array of ``size × size`` faces; resumes an interrupted pack. Returns the pack folder.

    Args:
        prepared: a folder written by ``afg prepare``.
        size: face side in pixels (``data.resize``; default: as prepared).
        out: pack folder (default :func:`pack_dir`).
        chunk: faces decoded between two saved resume points.
        overwrite: repack from scratch (also a pack of an older manifest, which is refused
            otherwise).
    """
    prepared = Path(prepared)
    ds = FaceDataset(prepared, size=size, cache=False)
    size = int(size or ds.prepared_size or 0)
    if not size:
        raise ValueError(f"{prepared}: prepare.json does not say the face size; give size=")
    out = Path(out) if out is not None else pack_dir(prepared, size)
    out.mkdir(parents=True, exist_ok=True)
    info_file, faces_file = out / "pack.json", out / "faces.npy"
    n = len(ds)
    info = json.loads(info_file.read_text()) if info_file.is_file() and not overwrite else None
    if info is not None:
        _check_fresh(out, prepared, info)
        if info.get("size") != size or info.get("count") != n or not faces_file.is_file():
            raise StalePackError(f"{out}: holds {info.get('count')} faces of {info.get('size')} px, "
                                 f"not {n} of {size} px; pack with overwrite=True or delete it")
        arr = np.load(faces_file, mmap_mode="r+")
    else:
        info = {"size": size, "count": n, "manifest": manifest_digest(prepared), "filled": 0,
                "prepared": str(prepared)}
        atomic_write_text(out / "index.csv", pd.DataFrame({"row": np.arange(n), "aligned": ds.table["aligned"]})
                          .to_csv(index=False))
        arr = np.lib.format.open_memmap(faces_file, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
        atomic_save_json(info_file, info)
    start = int(info["filled"])
    bar = tqdm(total=n, initial=start, desc=f"pack {prepared.name} at {size} px", unit="face",
               disable=not progress)
    for lo in range(start, n, max(1, chunk)):
        hi = min(n, lo + max(1, chunk))
        for i in range(lo, hi):
            arr[i] = ds._load(i)  # decoded and resized exactly as FaceDataset reads it
        arr.flush()
        info["filled"] = hi
        atomic_save_json(info_file, info)
        bar.update(hi - lo)
    bar.close()
    del arr
    return out


class PackedFaces:
    """Read-only view of a pack: ``faces[i]`` is the ``(size, size, 3)`` uint8 face of row ``i``;
    :meth:`row_of` maps a manifest ``aligned`` path to its row.

    The array is mapped lazily in each process (never pickled with the object), so DataLoader
    workers and DDP ranks share the page cache instead of holding copies.

    Raises:
        FileNotFoundError: no complete pack there; StalePackError: the manifest changed since.
    """

    def __init__(self, folder: str | os.PathLike, prepared: str | os.PathLike | None = None):
        self.folder = Path(folder)
        info_file = self.folder / "pack.json"
        if not info_file.is_file():
            raise FileNotFoundError(f"{self.folder} is not a face pack (no pack.json): "
                                    "afg.data.packed.pack_prepared(PREPARED, size=...) writes one")
        self.info = json.loads(info_file.read_text())
        if int(self.info["filled"]) < int(self.info["count"]):
            raise FileNotFoundError(f"{self.folder}: packing stopped at {self.info['filled']} of "
                                    f"{self.info['count']} faces; run pack_prepared again to finish it")
        self.prepared = Path(prepared) if prepared is not None else Path(self.info["prepared"])
        _check_fresh(self.folder, self.prepared, self.info)
        index = pd.read_csv(self.folder / "index.csv", dtype={"aligned": str})
        self._rows = dict(zip(index["aligned"], index["row"].astype(int)))
        self.size = int(self.info["size"])
        self._faces: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.info["count"])

    @property
    def faces(self) -> np.ndarray:
        """``(N, size, size, 3)`` uint8, memory-mapped read-only."""
        if self._faces is None:
            self._faces = np.load(self.folder / "faces.npy", mmap_mode="r")
        return self._faces

    def row_of(self, aligned: str) -> int:
        try:
            return self._rows[aligned]
        except KeyError:
            raise KeyError(f"{aligned} is not in the pack {self.folder}") from None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_faces"] = None  # workers map the file themselves
        return state


class PackedFaceDataset(FaceDataset):
    """:class:`afg.data.datasets.FaceDataset` whose faces come from a :class:`PackedFaces` pack
    (same items, bit for bit; ``pack`` and ``rows`` set by :func:`packed_dataset`)."""

    pack: PackedFaces
    rows: np.ndarray

    def _load(self, i: int) -> np.ndarray:
        return np.array(self.pack.faces[self.rows[i]])  # (size, size, 3) uint8, a private copy


def packed_dataset(adapter: Any, prepared: str | os.PathLike, packed: bool | str = True,
                   indices: Sequence[int] | None = None, size: int | None = None,
                   **options: Any) -> PackedFaceDataset:
    """A :class:`PackedFaceDataset` over ``adapter``'s faces (labels from the adapter, as
    ``adapter.dataset(prepared, ...)``). ``packed``: ``True`` (the default folder, packed first
    when missing or unfinished) or a pack folder. ``size``: ``data.resize``."""
    options.pop("cache", None)  # the page cache is the cache
    ds = PackedFaceDataset(adapter, prepared, indices=indices, size=size, cache=False, **options)
    folder = pack_dir(prepared, size) if packed is True else Path(str(packed))
    if packed is True:
        info = json.loads((folder / "pack.json").read_text()) if (folder / "pack.json").is_file() else {}
        if info.get("filled", -1) != info.get("count"):
            pack_prepared(prepared, size=size, out=folder)  # missing or interrupted: pack (on) now
    ds.pack = PackedFaces(folder, prepared)
    if size is not None and ds.pack.size != int(size):
        raise ValueError(f"{folder} holds {ds.pack.size} px faces, data.resize asks for {size}")
    ds.rows = np.array([ds.pack.row_of(a) for a in ds.table["aligned"]], dtype=np.int64)
    return ds


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m afg.data.packed PREPARED [--size S] [--out DIR] [--overwrite]``: pack once,
    before the workers or ``torchrun`` ranks start (several ranks must not pack at once)."""
    ap = argparse.ArgumentParser(prog="python -m afg.data.packed", description=main.__doc__)
    ap.add_argument("prepared", help="folder written by afg prepare")
    ap.add_argument("--size", type=int, default=None, help="face side (data.resize; default: as prepared)")
    ap.add_argument("--out", default=None, help="pack folder (default <prepared>/packed-<size>)")
    ap.add_argument("--overwrite", action="store_true", help="repack from scratch")
    args = ap.parse_args(argv)
    try:
        out = pack_prepared(args.prepared, size=args.size, out=args.out, overwrite=args.overwrite)
    except (StalePackError, FileNotFoundError, ValueError) as exc:
        print(f"afg.data.packed: error: {exc}")
        return 2
    info = json.loads((out / "pack.json").read_text())
    print(f"packed {info['count']} faces of {info['size']} px into {out / 'faces.npy'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
