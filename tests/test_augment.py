"""afg.data.augment: geometry of the face augmentation and its wiring into build_data."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from afg.config import ConfigError
from afg.data.augment import AugmentedSubset, FaceAugment, rotate_points
from afg.data.rois import MIRROR_68
from afg.data.stats import dataset_labels
from afg.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from afg.experiments import DataSpec, build_data


def _normalise(rgb: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (rgb - mean) / std


def _blob_item(points: torch.Tensor, size: int = 64) -> dict:
    """A dark image with a bright 3x3 blob at each (x, y) point."""
    rgb = torch.zeros(3, size, size)
    for x, y in points.round().long().tolist():
        rgb[:, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = 1.0
    return {"image": _normalise(rgb), "landmarks": points.clone(), "au": torch.tensor([1.0, 0.0])}


def _brightness(item: dict) -> torch.Tensor:
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    return (item["image"] * std + mean).mean(0)  # (H, W) in [0, 1]


def test_rotate_points_matches_torchvision_rotate():
    from torchvision.transforms.v2 import functional as TF

    p = torch.tensor([[40.0, 20.0]])
    img = torch.zeros(1, 64, 64)
    img[0, 19:22, 39:42] = 1.0
    for angle in (25.0, -40.0, 90.0):
        out = TF.rotate(img, angle, interpolation=TF.InterpolationMode.BILINEAR)[0]
        ys, xs = torch.nonzero(out > 0.2, as_tuple=True)
        w = out[ys, xs]
        centroid = torch.stack([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
        expect = rotate_points(p, angle, 64, 64)[0]
        assert torch.allclose(centroid, expect, atol=0.6), (angle, centroid, expect)
    # 90° counter-clockwise about the centre (31.5, 31.5): (40, 20) -> (20, 23)
    assert torch.allclose(rotate_points(p, 90.0, 64, 64), torch.tensor([[20.0, 23.0]]), atol=1e-5)


def test_centre_crop_at_test_time_is_deterministic_and_ignores_random_steps():
    pts = torch.tensor([[10.0, 12.0], [50.0, 40.0]])
    item = _blob_item(pts)
    aug = FaceAugment(crop=48, hflip=True, rotation=30, color_jitter=0.4, train=False)
    a, b = aug(item), aug(item)
    assert a["image"].shape == (3, 48, 48)
    assert torch.equal(a["image"], b["image"])
    assert torch.equal(a["image"], item["image"][:, 8:56, 8:56])
    assert torch.allclose(a["landmarks"], pts - 8)
    assert torch.equal(a["au"], item["au"])


def test_identity_transform_returns_the_item():
    item = _blob_item(torch.tensor([[10.0, 12.0]]))
    assert FaceAugment().is_identity and FaceAugment(hflip=True, train=False).is_identity
    assert FaceAugment()(item) is item


def test_random_geometry_keeps_landmarks_on_the_image_content():
    g = torch.Generator().manual_seed(3)
    pts = torch.rand(68, 2, generator=g) * 36 + 14  # away from the border
    item = _blob_item(pts)
    aug = FaceAugment(crop=56, hflip=True, rotation=20, train=True)
    flipped = 0
    for seed in range(12):
        torch.manual_seed(seed)
        out = aug(item)
        assert out["image"].shape == (3, 56, 56)
        lum = _brightness(out)
        xy = out["landmarks"].round().long().clamp(0, 55)
        vals = lum[xy[:, 1], xy[:, 0]]
        assert (vals > 0.3).float().mean() > 0.95, seed  # every landmark sits on its blob
        # the flip renumbers the points (MIRROR_68): point i of the output is point MIRROR_68[i]
        # of the input moved, so its x relative to the other points is mirrored
        rel_in = item["landmarks"][:, 0] - item["landmarks"][:, 0].mean()
        rel_out = out["landmarks"][:, 0] - out["landmarks"][:, 0].mean()
        if torch.corrcoef(torch.stack([rel_in[torch.as_tensor(MIRROR_68)], rel_out]))[0, 1] < -0.5:
            flipped += 1
    assert 2 <= flipped <= 10  # about half of the draws flip


def test_same_seed_same_item_and_colour_jitter_changes_pixels_only():
    item = _blob_item(torch.tensor([[20.0, 30.0]]))
    aug = FaceAugment(hflip=True, color_jitter=0.4, train=True)
    torch.manual_seed(0)
    a = aug(item)
    torch.manual_seed(0)
    b = aug(item)
    assert torch.equal(a["image"], b["image"])
    jit = FaceAugment(color_jitter=True)
    assert jit.color_jitter == 0.2
    torch.manual_seed(1)
    c = jit(item)
    assert c["image"].shape == item["image"].shape and not torch.equal(c["image"], item["image"])
    assert torch.equal(c["landmarks"], item["landmarks"])


def test_invalid_options_are_rejected():
    with pytest.raises(ValueError):
        FaceAugment(crop=0)
    with pytest.raises(ValueError):
        FaceAugment(color_jitter=1.5)
    with pytest.raises(ValueError, match="larger"):
        FaceAugment(crop=80)(_blob_item(torch.tensor([[10.0, 10.0]])))


def _spec(**kw) -> DataSpec:
    base = {"dataset": "synthetic", "n_subjects": 3, "images_per_subject": 3, "size": 48, "folds": 3, "fold": 1}
    base.update(kw)
    return DataSpec(**base)


def test_build_data_without_augmentation_keeps_plain_subsets():
    tr, va = build_data(_spec())
    assert type(tr) is Subset and type(va) is Subset


def test_build_data_applies_flip_in_training_and_centre_crop_in_validation():
    tr, va = build_data(_spec(hflip=True, resize=56))
    assert isinstance(tr, AugmentedSubset) and isinstance(va, AugmentedSubset)
    assert tr.transform.train and tr.transform.hflip and tr.transform.crop == 48
    assert not va.transform.train and va.transform.crop == 48
    assert tr[0]["image"].shape == (3, 48, 48) and va[0]["image"].shape == (3, 48, 48)
    assert torch.equal(va[0]["image"], va[0]["image"])
    # rendered at 56 px, the validation face is its centre 48 px
    full = va.dataset[va.indices[0]]
    assert full["image"].shape == (3, 56, 56)
    assert torch.equal(va[0]["image"], full["image"][:, 4:52, 4:52])
    assert torch.allclose(va[0]["landmarks"], full["landmarks"] - 4)
    # label statistics look through the wrapper
    plain_tr, _ = build_data(_spec())
    np.testing.assert_array_equal(dataset_labels(tr)["au"], dataset_labels(plain_tr)["au"])
    # flips happen: over a few draws some training faces differ from their unflipped crop
    torch.manual_seed(0)
    differ = [not torch.equal(tr[0]["image"], tr[0]["image"]) for _ in range(6)]
    assert any(differ)


def test_build_data_rejects_a_crop_larger_than_the_faces():
    with pytest.raises(ConfigError, match="img_size"):
        build_data(_spec(img_size=64))


def test_release_faces_are_loaded_at_resize_and_cropped_to_img_size(tmp_path):
    """A real-data recipe (`resize: 256`, `img_size: 224`, `hflip`) on an AffectNet fixture: faces
    are read at `resize`, training crops are random, validation crops centred, landmarks follow."""
    import warnings

    from test_datasets_faces import NoDetector, make_affectnet

    from afg.data.datasets import AffectNet
    from afg.data.prepare import prepare_dataset

    root, _ = make_affectnet(tmp_path / "raw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad = AffectNet(root)
        prepare_dataset(ad, tmp_path / "prep", size=48, aligner=NoDetector(size=48), progress=False)
        spec = DataSpec(dataset="affectnet", root=str(root), prepared=str(tmp_path / "prep"), folds=0,
                        resize=40, img_size=32, hflip=True)
        tr, va = build_data(spec)
    assert isinstance(tr, AugmentedSubset) and tr.transform.train and tr.transform.crop == 32
    full = va.dataset[0]
    assert full["image"].shape == (3, 40, 40)
    assert torch.equal(va[0]["image"], full["image"][:, 4:36, 4:36])
    assert torch.allclose(va[0]["landmarks"], full["landmarks"] - 4)
    torch.manual_seed(0)
    assert tr[0]["image"].shape == (3, 32, 32)
    assert int(tr[0]["expression"]) == int(tr.dataset[0]["expression"])


def test_config_accepts_a_jitter_strength_or_a_switch():
    from afg.experiments import ExperimentConfig

    cfg = ExperimentConfig.from_dict({"model": {"name": "baseline"}, "data": {"color_jitter": 0.4}})
    assert cfg.data.color_jitter == 0.4
    assert FaceAugment.from_spec(cfg.data, train=True).color_jitter == 0.4
    cfg = ExperimentConfig.from_dict({"model": {"name": "baseline"}, "data": {"color_jitter": True}})
    assert cfg.data.color_jitter is True and FaceAugment.from_spec(cfg.data, train=True).color_jitter == 0.2
