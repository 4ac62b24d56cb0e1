"""AU regions: centres, ROI sets (19 / 14), membership, flips, template, batched extraction."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from afg.data.rois import (
    MIRROR_68,
    au_centres,
    canonical_landmarks,
    extract_rois,
    flip_landmarks,
    hflip,
    roi_boxes,
    roi_centres,
    roi_set,
    template_from_five_points,
)


@pytest.fixture
def known_landmarks() -> torch.Tensor:
    """Random landmarks with the inner eye corners 30 px apart (s = 30)."""
    rng = np.random.default_rng(0)
    lm = rng.uniform(20, 180, size=(68, 2))
    lm[39] = [85.0, 90.0]
    lm[42] = [115.0, 92.0]
    return torch.tensor(lm, dtype=torch.float32)


def test_au_centres_follow_the_rules(known_landmarks):
    lm = known_landmarks
    s = 30.0
    c = au_centres(lm)
    expected = {  # (points, dy) written out from the rule table
        "AU1": ((21, 22), -s / 2),
        "AU2": ((18, 25), -s / 3),
        "AU4": ((19, 24), s / 3),
        "AU6": ((41, 46), s),
        "AU7": ((38, 43), 0.0),
        "AU10": ((61, 63), 0.0),
        "AU12": ((48, 54), 0.0),
        "AU17": ((56, 58), s / 2),
        "AU23": ((51, 57), 0.0),
    }
    for g, ((p, q), dy) in expected.items():
        want = torch.stack([lm[p] + torch.tensor([0, dy]), lm[q] + torch.tensor([0, dy])])
        torch.testing.assert_close(c[g], want, msg=g)
    # AU9: one midline ROI at the midpoint of 32, 34, s/2 above
    torch.testing.assert_close(c["AU9"][0], (lm[32] + lm[34]) / 2 + torch.tensor([0, -s / 2]))


def test_roi_counts_and_membership():
    bp4d, disfa = roi_set("bp4d"), roi_set("disfa")
    assert len(bp4d) == 19 and len(disfa) == 14
    assert len(bp4d.without_face()) == 18 and len(disfa.without_face()) == 13
    mb, md = bp4d.membership, disfa.membership
    assert mb.shape == (19, 12) and md.shape == (14, 8)
    # whole face last, belongs to every AU
    assert bp4d.face_index == 18 and mb[18].sum() == 12 and md[13].sum() == 8
    # every local ROI of BP4D: two per rule; AU12/14/15 share, AU23/24 share
    counts = mb[:18].sum(0)
    assert counts.tolist() == [2] * 12
    i12 = [r for r in range(18) if mb[r, 6]]
    assert all(mb[r, 7] and mb[r, 8] for r in i12) and len(i12) == 2
    # DISFA: AU9 one ROI, AU25/26 share the mouth pair at 51/57
    assert md[:13].sum(0).tolist() == [2, 2, 2, 2, 1, 2, 2, 2]
    mouth = [r for r in range(13) if md[r, 6]]
    assert [disfa.rois[r].points for r in mouth] == [(51,), (57,)]
    assert all(md[r, 7] for r in mouth)
    assert disfa.symmetric_pairs == [(0, 1), (2, 3), (4, 5), (6, 7), (9, 10), (11, 12)]
    assert len(bp4d.symmetric_pairs) == 9
    # flips swap left/right ROIs, not the upper/lower lip pair or the face
    assert disfa.mirror.tolist() == [1, 0, 3, 2, 5, 4, 7, 6, 8, 10, 9, 11, 12, 13]
    with pytest.raises(ValueError):
        roi_set(["AU05"])
    assert len(roi_set(["AU01", "AU05"], strict=False)) == 3


def test_template_is_mirror_symmetric_and_fits_five_points():
    tpl = canonical_landmarks(200)
    assert tpl.shape == (68, 2)
    torch.testing.assert_close(flip_landmarks(tpl, 200), tpl, atol=1e-4, rtol=0)
    assert (MIRROR_68[MIRROR_68] == np.arange(68)).all()
    # inner eye corners ~ 0.18 W apart, eyes above nose above mouth
    assert 0.13 * 200 < abs(tpl[39, 0] - tpl[42, 0]) < 0.22 * 200  # (0.176 of a tight crop, margin 0.1)
    assert tpl[36:48, 1].mean() < tpl[30, 1] < tpl[48:68, 1].mean()
    # a similarity-transformed template is recovered from its five points
    ang, scale, t = 0.2, 0.8, np.array([10.0, -5.0])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    moved = scale * tpl.numpy() @ rot.T + t
    five = np.stack([moved[36:42].mean(0), moved[42:48].mean(0), moved[30], moved[48], moved[54]])
    np.testing.assert_allclose(template_from_five_points(five, 200), moved, atol=1e-3)


def test_extraction_crops_the_right_place():
    h = w = 64
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    img = torch.stack([xs, ys, xs + ys]).unsqueeze(0).repeat(2, 1, 1, 1)  # pixel value = its index
    lm = canonical_landmarks(64, batch=2)
    lm[1] += torch.tensor([3.0, -2.0])  # second face shifted
    rs = roi_set("disfa")
    boxes = roi_boxes(lm, rs, (h, w), box_size=8.0)
    crops = extract_rois(img, boxes, 8)
    assert crops.shape == (2, 14, 3, 8, 8)
    cen = roi_centres(lm, rs)  # (2, 13, 2)
    # the mean of a linear ramp over a box = the box centre (in pixel-index coordinates)
    torch.testing.assert_close(crops[:, :13, 0].mean((-1, -2)), cen[..., 0], atol=1e-3, rtol=0)
    torch.testing.assert_close(crops[:, :13, 1].mean((-1, -2)), cen[..., 1], atol=1e-3, rtol=0)
    # the face ROI is the whole image resized
    torch.testing.assert_close(crops[:, 13, 0].mean(), torch.tensor((w - 1) / 2), atol=1e-3, rtol=0)


def test_flip_with_reindex_equals_mirrored_roi_order():
    torch.manual_seed(0)
    img = torch.randn(2, 3, 48, 48)
    lm = canonical_landmarks(48, batch=2) + torch.randn(2, 68, 2)
    rs = roi_set("bp4d")
    fimg, flm = hflip(img, lm)
    a = extract_rois(fimg, roi_boxes(flm, rs, (48, 48), 6.0), 6)
    xonly = flip_landmarks(lm, 48, reindex=False)
    b = extract_rois(fimg, roi_boxes(xonly, rs, (48, 48), 6.0), 6)
    torch.testing.assert_close(a, b[:, rs.mirror], atol=1e-5, rtol=0)
    # and a flipped ROI of the flipped face is the mirror ROI of the original face, flipped
    orig = extract_rois(img, roi_boxes(lm, rs, (48, 48), 6.0), 6)
    torch.testing.assert_close(a, orig[:, rs.mirror].flip(-1), atol=1e-4, rtol=0)


def test_plot_rois_draws_every_roi():
    import matplotlib

    from afg.viz.rois import plot_rois

    fig = plot_rois(rois="bp4d")
    rects = [p for p in fig.axes[0].patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert len(rects) == 19
    img = torch.zeros(3, 64, 64)  # a normalised tensor image with its own landmarks
    fig2 = plot_rois(img, canonical_landmarks(64), rois="disfa", show_labels=False)
    assert len(fig2.axes[0].patches) == 14 and fig2.axes[0].images
    matplotlib.pyplot.close("all")


def test_template_sits_on_the_alignment_template():
    """The template's five points are those afg.data.faces.align maps faces onto (< 1 px at 224)."""
    from afg.data import faces

    for margin in (0.0, 0.1):
        five = faces.landmarks68_to_5(canonical_landmarks(224, margin=margin).numpy())
        np.testing.assert_allclose(five, faces.face_template(224, margin), atol=1.0)
