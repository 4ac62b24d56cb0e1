"""68 landmarks for faces whose release ships none (BP4D, DISFA): the template placed through each
face's five stored points (:class:`afg.data.rois.FaceLandmarks68`), served by ``FaceDataset`` so
that AU-GCN's ROIs follow each face (no detector runs here)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from test_datasets_faces import make_disfa
from torch.utils.data import DataLoader

from afg.data.datasets import DISFA, FaceDataset
from afg.data.faces import FaceAligner, landmarks68_to_5
from afg.data.image_io import as_rgb_uint8
from afg.data.manifest import read_manifest
from afg.data.prepare import prepare_dataset
from afg.data.rois import FaceLandmarks68, canonical_landmarks, template_from_five_points
from afg.models import create_model
from afg.train.evaluate import model_inputs


def _similar(points: np.ndarray, angle: float, scale: float, shift) -> np.ndarray:
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return scale * points @ rot.T + np.asarray(shift, dtype=np.float64)


def test_release_points_win_and_the_fit_recovers_a_moved_template():
    tpl = canonical_landmarks(100).double().numpy()
    moved = _similar(tpl, 0.3, 0.7, (12.0, -4.0))  # a tilted, smaller face
    shipped = np.full((3, 68, 2), np.nan, dtype=np.float32)
    shipped[0] = moved + 1.0  # row 0: the release's own points
    five = np.stack([landmarks68_to_5(moved)] * 3)
    five[2, 1] = np.nan  # row 2: no five points either
    lm = FaceLandmarks68(five, 100, shipped)
    assert len(lm) == 3 and lm.source == "mixed" and lm.is_shipped().tolist() == [True, False, False]
    np.testing.assert_array_equal(lm[0], shipped[0])
    np.testing.assert_allclose(lm[1], moved, atol=1e-3)  # the whole 68-point face, from 5 points
    assert lm[1].dtype == np.float32 and np.isnan(lm[2]).all()
    assert FaceLandmarks68(five[:2], 100).source == "five-point fit"
    with pytest.raises(ValueError, match="shipped landmark rows"):
        FaceLandmarks68(five, 100, shipped[:2])


class LongFaceAligner(FaceAligner):
    """No MTCNN: each image's five points are the template's with the mouth lowered by an amount
    that grows with the image's position (faces longer than the template, each its own)."""

    count = 0

    def align(self, images):
        out = []
        for im in images:
            im = as_rgb_uint8(im)
            h, w = im.shape[:2]
            five = landmarks68_to_5(canonical_landmarks(w, margin=0.0).double().numpy())
            five[3:, 1] += 0.02 * h * LongFaceAligner.count
            LongFaceAligner.count += 1
            r = self.align_points(im, five)
            r.update(box=np.array([0, 0, w - 1, h - 1], float), score=0.99, faces=1, reason="")
            out.append(r)
        return out


def test_face_dataset_gives_every_face_68_points_through_its_five(tmp_path):
    raw = make_disfa(tmp_path / "raw")
    adapter = DISFA(raw)
    out = tmp_path / "prepared"
    prepare_dataset(adapter, out, size=32, batch_size=3, aligner=LongFaceAligner(size=32), progress=False)
    faces = adapter.dataset(out)
    manifest = FaceDataset(out)
    table, _ = read_manifest(out)  # afg prepare's five points per face, crop pixels
    five_of = dict(zip(table["aligned"], table[[f"lm{k}_{a}" for k in range(5) for a in "xy"]].to_numpy(float)))
    for ds in (faces, manifest):
        for i in range(len(ds)):
            five = five_of[ds.table["aligned"].iat[i]].reshape(5, 2)
            got = ds[i]["landmarks"].numpy()
            assert got.shape == (68, 2) and got.dtype == np.float32
            np.testing.assert_allclose(got, template_from_five_points(five, 32), atol=1e-4)
            # the fit follows the face: eyes, nose and mouth near its own points (a similarity
            # cannot lengthen the template, so up to 5 % of the crop on the longest face)
            assert np.abs(landmarks68_to_5(got) - five).max() < 0.05 * 32
    assert faces.landmarks_source == manifest.landmarks_source == "five-point fit"
    # landmarks follow a resize of the faces (pixel-index coordinates)
    big = FaceDataset(adapter, out, size=64)
    np.testing.assert_allclose(big[2]["landmarks"].numpy(), (faces[2]["landmarks"].numpy() + 0.5) * 2 - 0.5,
                               atol=1e-4)
    # AU-GCN with model.landmarks: data (its configs' default) gets them from a batch
    model = create_model("au_gcn", 8, dataset="disfa", img_size=32)
    batch = next(iter(DataLoader(faces, batch_size=4)))
    images, extra = model_inputs(model, batch)
    assert extra["landmarks"].shape == (4, 68, 2)
    with torch.no_grad():
        boxes = model(images, **extra, return_intermediates=True)["roi_boxes"]
    brow_to_mouth = boxes[:, -2, 1] - boxes[:, 0, 1]  # lower-lip ROI below the AU1 ROI, per face
    assert (brow_to_mouth.diff() > 0.1).all()  # each face's own ROIs (longer faces), not one template
