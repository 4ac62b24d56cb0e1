"""Face detection/alignment (afg.data.faces) and robust image reading (afg.data.image_io).

Real photographs: scikit-image's astronaut (Eileen Collins) and matplotlib's Grace Hopper; the
cat (chelsea) is the face-less control.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import skimage.data
from PIL import Image

from afg.data.faces import (
    FaceAligner,
    align,
    apply_transform,
    estimate_similarity,
    face_template,
    landmarks68_to_5,
    warp_affine,
)
from afg.data.image_io import UnreadableImageError, as_rgb_uint8, read_image

HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {
        "astronaut": skimage.data.astronaut(),
        "hopper": np.asarray(Image.open(HOPPER).convert("RGB")),
        "cat": skimage.data.chelsea(),
    }


@pytest.fixture(scope="module")
def face_crop(photos) -> np.ndarray:
    """A 200 × 200 piece of the astronaut photo around the face (fast to detect)."""
    return np.ascontiguousarray(photos["astronaut"][20:220, 125:325])


def test_similarity_recovers_known_transform_and_matches_skimage():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, size=(5, 2))
    a = np.deg2rad(17.0)
    m = np.array([[1.3 * np.cos(a), -1.3 * np.sin(a), 12.0], [1.3 * np.sin(a), 1.3 * np.cos(a), -4.0]])
    assert np.allclose(estimate_similarity(src, apply_transform(m, src)), m, atol=1e-9)
    assert np.allclose(estimate_similarity(src, apply_transform(m, src), [10, 10, 1, 1, 1]), m, atol=1e-9)
    # noisy points: the unweighted fit equals scikit-image's least-squares similarity
    from skimage.transform import SimilarityTransform

    dst = rng.normal(size=(5, 2)) * 30 + 100
    ref = SimilarityTransform.from_estimate(src, dst).params[:2]
    assert np.allclose(estimate_similarity(src, dst), ref, atol=1e-9)
    # a reflection is never returned
    mirrored = src * np.array([-1, 1])
    r = estimate_similarity(src, mirrored)[:, :2]
    assert np.linalg.det(r) > 0


def test_weights_pull_eyes_onto_template():
    pts = np.array([[0, 0], [40, 2], [20, 30], [2, 50], [42, 52]], dtype=float)
    tpl = face_template(224, 0.1)
    err = {}
    for name, w in (("plain", None), ("eyes", (10, 10, 1, 1, 1))):
        m = estimate_similarity(pts, tpl, w)
        err[name] = np.linalg.norm(apply_transform(m, pts)[:2] - tpl[:2], axis=1).max()
    assert err["eyes"] < err["plain"]


def test_template_margin_and_size():
    t0 = face_template(112, 0.0)
    assert np.allclose(t0, [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                            [41.5493, 92.3655], [70.7299, 92.2041]])
    t = face_template(224, 0.25)
    c = np.array([112.0, 112.0])
    assert np.allclose(t - c, (t0 * 2 - c) / 1.5)  # shrunk towards the centre by 1 + 2·margin


def test_warp_affine_puts_pixels_where_the_matrix_says():
    img = np.zeros((200, 240, 3), np.uint8)
    yy, xx = np.mgrid[:200, :240]
    pts = np.array([[60.0, 50.0], [170.0, 140.0]])
    for x, y in pts:
        img[..., 1] = np.maximum(img[..., 1], (255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 50)).astype(np.uint8))
    for angle, scale in ((0.0, 1.0), (25.0, 0.6), (-40.0, 0.3), (10.0, 1.8)):
        a = np.deg2rad(angle)
        m = np.array([[scale * np.cos(a), -scale * np.sin(a), 20.5],
                      [scale * np.sin(a), scale * np.cos(a), 33.25]])
        out = warp_affine(img, m, 400).astype(float)[..., 1]
        oy, ox = np.mgrid[:400, :400]
        for x, y in apply_transform(m, pts):
            win = (np.abs(ox - x) < 14 * max(scale, 0.5)) & (np.abs(oy - y) < 14 * max(scale, 0.5))
            w = out * win
            centroid = np.array([(w * ox).sum(), (w * oy).sum()]) / w.sum()
            assert np.abs(centroid - [x, y]).max() < 0.25, (angle, scale, centroid, (x, y))


def test_landmarks68_to_5():
    lm = np.zeros((68, 2))
    lm[36:42] = [10, 20]
    lm[42:48] = [30, 20]
    lm[30], lm[48], lm[54] = [20, 30], [12, 40], [28, 40]
    assert np.allclose(landmarks68_to_5(lm), [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]])


def test_real_photographs_eyes_land_on_template(photos):
    size = 224
    tpl = face_template(size, 0.1)
    res = align([photos["astronaut"], photos["hopper"], photos["cat"]], size=size)
    assert [r["status"] for r in res] == ["ok", "ok", "no_face"]
    assert res[2]["image"] is None and res[2]["reason"]
    crops = []
    for r in res[:2]:
        assert r["image"].shape == (size, size, 3) and r["image"].dtype == np.uint8
        assert r["landmarks"].shape == (5, 2) and r["box"].shape == (4,) and r["score"] > 0.99
        # the detected eyes, mapped into the crop, are within 3 px of the template
        eye_err = np.linalg.norm(r["landmarks"][:2] - tpl[:2], axis=1)
        assert eye_err.max() < 3.0, eye_err
        # landmarks = transform applied to the source points
        assert np.allclose(apply_transform(r["transform"], r["source_landmarks"]), r["landmarks"], atol=1e-3)
        x1, _, x2, _ = r["box"]
        assert x1 <= r["source_landmarks"][:, 0].min() and r["source_landmarks"][:, 0].max() <= x2
        crops.append(r["image"])
    # independent check of the warp: detecting again on the aligned crops finds the eyes there
    again = align(crops, size=size)
    for r in again:
        assert r["status"] == "ok"
        assert np.abs(r["source_landmarks"][:2] - tpl[:2]).max() < 3.0


def test_input_kinds_all_align(tmp_path, face_crop):
    gray = np.asarray(Image.fromarray(face_crop).convert("L"))
    gray_tif = tmp_path / "KA.AN1.39.tiff"
    Image.fromarray(gray).save(gray_tif)
    rgba = np.dstack([face_crop, np.full(face_crop.shape[:2], 255, np.uint8)])
    png16 = tmp_path / "deep.png"
    Image.fromarray(gray.astype(np.uint16) * 257).save(png16)
    # EXIF-rotated JPEG: pixels stored rotated, orientation tag 6 (rotate 90° clockwise to show)
    exif_jpg = tmp_path / "phone.jpg"
    stored = Image.fromarray(np.rot90(face_crop, k=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(exif_jpg, quality=95, exif=exif)
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg" * 3)
    frames = np.stack([face_crop, face_crop[:, ::-1]])  # video frames as one (T, H, W, 3) array

    # the reader itself
    assert read_image(gray_tif).shape == (200, 200, 3)
    assert np.abs(read_image(exif_jpg).astype(int) - face_crop).mean() < 4  # upright again
    assert np.abs(read_image(png16).astype(int) - gray[..., None]).max() <= 1
    with pytest.raises(UnreadableImageError, match=r"broken\.jpg"):
        read_image(corrupt)

    inputs = [face_crop, str(gray_tif), rgba, str(png16), str(exif_jpg),
              face_crop.astype(np.uint16) * 257, face_crop.astype(np.float32) / 255.0,
              str(corrupt), str(tmp_path / "absent.png")]
    aligner = FaceAligner(size=112, batch_size=4)
    res = aligner.align(inputs)
    statuses = [r["status"] for r in res]
    assert statuses == ["ok"] * 7 + ["unreadable", "unreadable"], [r["reason"] for r in res]
    assert "not found" in res[-1]["reason"]
    ref = res[0]["landmarks"]
    for r in res[1:7]:
        assert np.abs(r["landmarks"][:2] - ref[:2]).max() < 2.0  # same eyes whatever the input kind
    vid = aligner.align(frames)
    assert len(vid) == 2 and all(r["status"] == "ok" for r in vid)


def test_batched_equals_one_at_a_time(photos, face_crop):
    small = np.asarray(Image.fromarray(photos["hopper"]).resize((256, 300)))
    imgs = [face_crop, small]
    batched = FaceAligner(size=112, batch_size=8).align(imgs)
    single = [FaceAligner(size=112, batch_size=1).align([im])[0] for im in imgs]
    for b, s in zip(batched, single):
        assert b["status"] == s["status"] == "ok"
        # padding to the batch canvas adds pyramid scales: the same face, within ~2 px
        assert np.abs(b["source_landmarks"] - s["source_landmarks"]).max() < 2.5


def test_as_rgb_uint8_conversions():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert as_rgb_uint8(g).shape == (3, 4, 3)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [[255, 0], [128, 255]]
    out = as_rgb_uint8(rgba)
    assert tuple(out[0, 0]) == (200, 0, 0) and tuple(out[0, 1]) == (255, 255, 255)
    assert as_rgb_uint8(np.full((2, 2), 65535, np.uint16)).max() == 255
    assert as_rgb_uint8(np.full((2, 2, 3), 0.5, np.float32))[0, 0, 0] == 128
    with pytest.raises(ValueError):
        as_rgb_uint8(np.zeros((2, 2, 7)))
