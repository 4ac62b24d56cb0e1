"""Batched augmentation on the training device (afg.data.device_augment) against the per-image path
(afg.data.augment.FaceAugment, torchvision's functional ops): equal for fixed parameters, equal in
distribution for the random ones (fixed seeds, two-sample tests)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from torchvision.transforms.v2 import functional as TF

from afg.data.augment import AugmentedSubset, FaceAugment, device_augment_of, rotate_points
from afg.data.device_augment import DeviceAugment, adjust_hue, rotate_batch
from afg.data.rois import flip_landmarks
from afg.data.transforms import IMAGENET_MEAN, IMAGENET_STD

MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)


def _faces(b: int = 6, size: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(b, 3, size, size, generator=g)
    lm = torch.rand(b, 68, 2, generator=g) * (size - 1)
    return (rgb - MEAN) / STD, lm


def _ramp(size: int) -> torch.Tensor:
    """One face whose pixels encode their position: channel 0 = column, 1 = row (normalised)."""
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    rgb = torch.stack([xs / 255.0, ys / 255.0, torch.full_like(xs, 0.5, dtype=torch.float32)]).float()
    return (rgb - MEAN) / STD


def test_centre_crop_is_exactly_the_per_image_crop():
    img, lm = _faces()
    per = [FaceAugment(crop=13, train=False)({"image": i, "landmarks": p}) for i, p in zip(img, lm)]
    out = DeviceAugment(crop=13, train=False)({"image": img, "landmarks": lm})
    assert torch.equal(out["image"], torch.stack([p["image"] for p in per]))
    assert torch.equal(out["landmarks"], torch.stack([p["landmarks"] for p in per]))


def test_forced_flip_mirrors_and_renumbers_landmarks_exactly():
    img, lm = _faces()
    out = DeviceAugment(hflip=True, hflip_p=1.0)({"image": img, "landmarks": lm, "au": torch.ones(6, 3)})
    assert torch.equal(out["image"], img.flip(-1))
    assert torch.equal(out["landmarks"], flip_landmarks(lm, img.shape[-1]))
    # left eye corner (point 37, index 36) of the flipped face is the mirrored right one (46, index 45)
    assert torch.equal(out["landmarks"][:, 36, 0], img.shape[-1] - 1 - lm[:, 45, 0])
    assert torch.equal(out["au"], torch.ones(6, 3))
    none = DeviceAugment(hflip=True, hflip_p=0.0)({"image": img, "landmarks": lm})
    assert torch.equal(none["image"], img) and torch.equal(none["landmarks"], lm)


def test_each_colour_step_equals_torchvision_for_a_fixed_factor():
    img, _ = _faces(b=4)
    rgb = (img * STD + MEAN).clamp(0, 1)
    f = torch.tensor([0.8, 1.0, 1.15, 1.2])
    for op, fn in enumerate((TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation)):
        ours = DeviceAugment._color_op(op, rgb.clone(), f)
        ref = torch.stack([fn(r, float(x)) for r, x in zip(rgb, f)])
        torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)
    shift = torch.tensor([-0.1, 0.0, 0.05, 0.1])
    ref = torch.stack([TF.adjust_hue(r, float(x)) for r, x in zip(rgb, shift)])
    torch.testing.assert_close(adjust_hue(rgb, shift), ref, atol=2e-5, rtol=0)


def test_rotation_equals_torchvision_and_moves_landmarks_alike():
    img, _ = _faces(b=3, size=24)
    rgb = (img * STD + MEAN).clamp(0, 1)
    angles = torch.tensor([-10.0, 3.5, 12.0])
    ours = rotate_batch(rgb, angles)
    ref = torch.stack([TF.rotate(r, float(a), interpolation=TF.InterpolationMode.BILINEAR)
                       for r, a in zip(rgb, angles)])
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    # a bright dot at a landmark lands where rotate_points puts it
    dot = torch.zeros(1, 1, 24, 24)
    dot[0, 0, 6, 17] = 1.0
    moved = rotate_batch(dot.expand(3, 1, 24, 24).clone(), angles)
    for k, a in enumerate(angles):
        p = rotate_points(torch.tensor([[17.0, 6.0]]), float(a), 24, 24)[0]
        w = moved[k, 0]
        ys, xs = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
        centre = torch.stack([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])
        assert torch.allclose(centre, p, atol=0.35), (float(a), centre, p)


def _draws(aug_per, aug_dev, n: int, size: int):
    """``n`` augmentations of one ramp face by each path (fixed seeds)."""
    face = _ramp(size)
    torch.manual_seed(1)
    per = torch.stack([aug_per({"image": face})["image"] for _ in range(n)])
    torch.manual_seed(2)
    dev = aug_dev({"image": face.expand(n, -1, -1, -1).clone()})["image"]
    return per, dev


def test_random_crop_offsets_and_flip_rate_match_in_distribution():
    n, size, crop = 1200, 24, 19
    per, dev = _draws(FaceAugment(crop=crop, hflip=True), DeviceAugment(crop=crop, hflip=True), n, size)
    for imgs in (per, dev):
        assert imgs.shape == (n, 3, crop, crop)

    def offsets_and_flips(imgs):
        rgb = imgs * STD + MEAN
        col = (rgb[:, 0] * 255).round()
        flipped = col[:, 0, 0] > col[:, 0, -1]
        left = torch.where(flipped, col[:, 0, -1], col[:, 0, 0]).long()
        top = (rgb[:, 1, 0, 0] * 255).round().long()
        return top.numpy(), left.numpy(), flipped.numpy()

    (tp, lp, fp), (td, ld, fd) = offsets_and_flips(per), offsets_and_flips(dev)
    for a, b in ((tp, td), (lp, ld)):
        counts = np.stack([np.bincount(a, minlength=size - crop + 1), np.bincount(b, minlength=size - crop + 1)])
        assert counts.shape[1] == size - crop + 1 and (counts > 0).all()  # every offset occurs
        assert stats.chi2_contingency(counts).pvalue > 1e-3
    assert stats.chi2_contingency([[fp.sum(), n - fp.sum()], [fd.sum(), n - fd.sum()]]).pvalue > 1e-3
    assert abs(fd.mean() - 0.5) < 0.06


def test_rotation_angles_match_in_distribution():
    n, size, r = 600, 21, 15.0
    lm = torch.tensor([[[15.0, 10.0]]])  # one point right of the centre (10, 10)
    torch.manual_seed(3)
    face = _ramp(size)
    per = [FaceAugment(rotation=r)({"image": face, "landmarks": lm[0]})["landmarks"][0] for _ in range(n)]
    torch.manual_seed(4)
    dev = DeviceAugment(rotation=r)({"image": face.expand(n, -1, -1, -1).clone(),
                                     "landmarks": lm.expand(n, -1, -1).clone()})["landmarks"][:, 0]

    def angle(p):  # the rotation that moved the point (counter-clockwise, y down)
        return np.degrees(np.arctan2(-(p[..., 1] - 10.0), p[..., 0] - 10.0))

    a, b = angle(torch.stack(per).numpy()), angle(dev.numpy())
    assert np.abs(a).max() <= r + 1e-3 and np.abs(b).max() <= r + 1e-3
    assert stats.ks_2samp(a, b).pvalue > 1e-3
    assert stats.ks_2samp(b, np.random.default_rng(0).uniform(-r, r, 5000)).pvalue > 1e-3


def test_colour_jitter_pixel_statistics_match_in_distribution():
    n, size = 500, 12
    g = torch.Generator().manual_seed(5)
    face = ((torch.rand(3, size, size, generator=g) * 0.6 + 0.2) - MEAN) / STD
    torch.manual_seed(6)
    per = torch.stack([FaceAugment(color_jitter=0.3)({"image": face})["image"] for _ in range(n)])
    torch.manual_seed(7)
    dev = DeviceAugment(color_jitter=0.3)({"image": face.expand(n, -1, -1, -1).clone()})["image"]
    for stat in (lambda x: (x * STD + MEAN).mean((1, 2, 3)),          # brightness
                 lambda x: (x * STD + MEAN).std((1, 2, 3)),           # contrast
                 lambda x: (x * STD + MEAN)[:, 0].mean((1, 2)) - (x * STD + MEAN)[:, 2].mean((1, 2))):  # hue
        assert stats.ks_2samp(stat(per).numpy(), stat(dev).numpy()).pvalue > 1e-3


def test_the_trainer_finds_the_device_steps_of_a_training_set():
    from torch.utils.data import Subset, TensorDataset

    base = TensorDataset(torch.zeros(4, 1))
    aug = FaceAugment(crop=8, hflip=True, on_device=True)
    train = AugmentedSubset(base, [0, 1, 2], aug)
    assert aug({"image": torch.zeros(3, 10, 10)})["image"].shape == (3, 10, 10)  # left for the device
    dev = device_augment_of(Subset(train, [0, 1]))
    assert dev == DeviceAugment(crop=8, hflip=True, rotation=0.0, color_jitter=0.0, train=True)
    assert device_augment_of(AugmentedSubset(base, [0], FaceAugment(crop=8, hflip=True))) is None
    import dataclasses

    val = dataclasses.replace(aug, train=False)  # the selection split's view: centre crop on the CPU
    assert val({"image": torch.zeros(3, 10, 10)})["image"].shape == (3, 8, 8)


@pytest.mark.slow
def test_fit_with_augment_on_device(tmp_path):
    from afg.experiments import ExperimentConfig, run

    cfg = ExperimentConfig.from_dict({
        "model": {"name": "au_gcn", "num_classes": 8, "backbone": "resnet_tiny", "pretrained": False,
                  "img_size": 40},
        "data": {"dataset": "synthetic", "n_subjects": 4, "images_per_subject": 3, "size": 48, "resize": 48,
                 "img_size": 40, "hflip": True, "rotation": 5, "color_jitter": 0.1, "folds": 2,
                 "augment_on": "device"},
        "recipe": {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 2, "device": "cpu",
                   "progress": False}})
    res = run(cfg, root=tmp_path)
    assert np.isfinite(res.history[-1]["train_loss"])


def test_jpegs_decoded_by_the_trainer_equal_the_loaders_faces(tmp_path):
    """``data.decode_on: device``: training items carry the JPEG file; the trainer's device step
    decodes the batch (here on the CPU: libjpeg-turbo, as PIL) into the loader's faces; the
    selection split's centre-crop view decodes on the CPU."""
    import dataclasses

    from test_datasets_faces import StubAligner, make_disfa

    from afg.data.build import build_data
    from afg.data.datasets import DISFA
    from afg.data.device_augment import EncodedFaceDataset, decode_jpegs
    from afg.data.prepare import prepare_dataset
    from afg.data.spec import DataSpec
    from afg.train.evaluate import collate, to_device

    raw = make_disfa(tmp_path / "raw")
    prep = tmp_path / "prepared"
    prepare_dataset(DISFA(raw), prep, size=32, aligner=StubAligner(size=32), progress=False)
    common = {"dataset": "disfa", "root": str(raw), "prepared": str(prep), "folds": 2, "fold": 1, "cache": False,
              "augment_on": "device"}
    cpu_tr, _ = build_data(DataSpec(**common))
    enc_tr, enc_va = build_data(DataSpec(**common, decode_on="device"))
    assert isinstance(enc_tr, EncodedFaceDataset) and "image" not in enc_tr[0] and "jpeg" in enc_tr[0]
    assert "image" in enc_va[0]  # evaluation reads decoded faces
    step = device_augment_of(enc_tr)
    assert step is not None
    batch = step(to_device(collate([enc_tr[i] for i in range(len(enc_tr))]), torch.device("cpu")))
    ref = torch.stack([cpu_tr[i]["image"] for i in range(len(cpu_tr))])
    assert torch.equal(batch["image"], ref)
    assert torch.equal(batch["au"], torch.stack([cpu_tr[i]["au"] for i in range(len(cpu_tr))]))
    # resized on decode (bilinear, antialiased): close to the loader's PIL resize, not identical
    small = decode_jpegs([enc_tr[0]["jpeg"]], "cpu", 24)
    assert small.shape == (1, 3, 24, 24) and small.dtype == torch.uint8
    view = dataclasses.replace(FaceAugment(crop=28, on_device=True), train=False)
    assert torch.equal(view(enc_tr[0])["image"], ref[0][:, 2:30, 2:30])
    with pytest.raises(Exception, match=r"data\.decode_on"):
        DataSpec(**{**common, "augment_on": "cpu"}, decode_on="device")
