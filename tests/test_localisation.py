"""Saliency maps scored against the generator's AU regions (afg.metrics.localisation, #45)."""
from __future__ import annotations

import numpy as np
import pytest

from afg.data.synth import ALL_AUS, region_mask, render_face
from afg.data.synth.render import Nuisance
from afg.metrics.localisation import (
    au_region_masks,
    class_aus,
    energy_share,
    localisation_table,
    pointing_game,
)


def _amps(au=None):
    a = np.zeros(len(ALL_AUS))
    if au is not None:
        a[ALL_AUS.index(au)] = 1.0
    return a


def test_regions_equal_the_generators_own_masks_in_the_canonical_pose():
    _, lm = render_face(3, _amps(), 112, None)
    masks = au_region_masks(lm[None], ["S003"], ["AU01", "AU12", "AU25"], 112)
    for k, au in enumerate((1, 12, 25)):
        assert (masks[0, k] == region_mask(au, 112)).mean() > 0.995
    # landmarks of a 112 px face scored on 28 px maps: the same region, scaled
    small = au_region_masks(lm[None], [3], ["AU12"], 28, landmark_size=112)[0, 0]
    block = region_mask(12, 112).reshape(28, 4, 28, 4).mean(axis=(1, 3))
    assert (small == (block >= 0.5)).mean() > 0.97


@pytest.mark.parametrize("au", [1, 12, 25])
def test_regions_follow_the_pose_and_hold_the_change_the_au_draws(au):
    """Under roll, scale and shift the region moves with the face: most of the pixel change an AU
    causes (the generator's own localisation criterion, 0.7) lies in the carried region, not in the
    canonical-pose box."""
    nz = Nuisance(roll=9.0, scale=0.9, shift=(0.08, -0.06))
    off, lm = render_face(2, _amps(), 112, nz)
    on, _ = render_face(2, _amps(au), 112, nz)
    d = np.abs(on.astype(float) - off.astype(float)).sum(-1)
    mask = au_region_masks(lm[None], [2], [f"AU{au:02d}"], 112)[0, 0]
    assert d[mask].sum() / d.sum() >= 0.7
    assert energy_share(d, mask) == pytest.approx(d[mask].sum() / d.sum())
    assert not np.array_equal(mask, region_mask(au, 112))


def test_pointing_game_and_energy_share_on_hand_made_maps():
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True  # area share 0.25
    peak_in = np.zeros((4, 4))
    peak_in[0, 1] = 1.0
    peak_out = np.zeros((4, 4))
    peak_out[3, 3] = 2.0
    peak_out[0, 0] = 1.0  # 1/3 of the energy inside
    flat = np.ones((4, 4))
    maps = np.stack([peak_in, peak_out, flat])
    assert list(pointing_game(maps, mask[None])) == [1.0, 0.0, 0.25]  # a flat map scores chance
    assert energy_share(maps, mask[None]) == pytest.approx([1.0, 1 / 3, 0.25])
    assert np.isnan(energy_share(np.zeros((4, 4)), mask))


def test_localisation_table_scores_active_images_against_chance():
    mask = np.zeros((2, 2, 4, 4), bool)
    mask[:, 0, :2, :2] = True  # label a: top-left quarter
    mask[:, 1, 2:, :] = True  # label b: bottom half
    maps = np.zeros((2, 2, 4, 4))
    maps[0, 0, 0, 0] = maps[1, 0, 3, 3] = 1.0  # a: hit on image 0, miss on image 1
    maps[:, 1, 3, 0] = 1.0  # b: hit on both
    active = np.array([[1, 1], [0, 1]])
    t = localisation_table(maps, mask, ["a", "b"], active=active)
    assert t.loc["a", "pointing"] == 1.0 and t.loc["a", "n"] == 1 and t.loc["a", "chance"] == 0.25
    assert t.loc["b", "pointing"] == 1.0 and t.loc["b", "n"] == 2 and t.loc["b", "chance"] == 0.5
    everywhere = localisation_table(maps, mask, ["a", "b"])
    assert everywhere.loc["a", "pointing"] == 0.5 and everywhere.loc["mean", "chance"] == pytest.approx(0.375)


def test_emotions_map_to_their_prototype_aus():
    assert class_aus("Happy") == (6, 12) and class_aus("AU01") == (1,) and class_aus("Neutral") == ()
    _, lm = render_face(0, _amps(), 112, None)
    m = au_region_masks(lm[None], [0], ["Happy", "AU06", "AU12"], 112)[0]
    assert np.array_equal(m[0], m[1] | m[2])
    with pytest.raises(KeyError, match="neither an AU"):
        class_aus("Contempt")


def test_reports_of_the_notebooks_on_an_untrained_model():
    """localisation_report scores every model × label with the region's area share as chance;
    graph_report and cosine_report put the truths and the relabelling baseline next to r."""
    import torch

    from afg.data.stats import dataset_labels
    from afg.data.synth import SynthFaces
    from afg.models import create_model
    from afg.papers.figures import (
        cosine_report,
        generator_labels,
        graph_report,
        localisation_report,
    )

    ds = SynthFaces("disfa", n_subjects=2, images_per_subject=3, size=64, seed=1)
    torch.manual_seed(0)
    model = create_model("baseline", 8, backbone="resnet_tiny", img_size=64)
    loc = localisation_report({"untrained": (model, None)}, ds, ["AU01", "AU25"], n=4)
    assert list(loc.index) == [("untrained", "AU01"), ("untrained", "AU25"), ("untrained", "mean")]
    masks = au_region_masks(np.stack([ds[i]["landmarks"].numpy() for i in range(4)]),
                            [ds[i]["subject"] for i in range(4)], ["AU01"], 64)
    assert loc.loc[("untrained", "AU01"), "chance"] <= 1.0 and "area share" in loc.attrs["note"]
    if loc.loc[("untrained", "AU01"), "n"] == 4:  # AU01 active nowhere: every face scored
        assert loc.loc[("untrained", "AU01"), "chance"] == pytest.approx(masks.mean())
    y = dataset_labels(ds)["au"]
    g = graph_report({"noise": np.random.default_rng(0).random((8, 8))}, y, profile="disfa", n_perm=50)
    assert set(g.index.get_level_values("truth")) == {"training labels P(j|i)", "generator P(j|i)"}
    fresh = generator_labels(ds, "emotions", n_subjects=20)
    assert fresh.shape == (20 * 3, 6)
    names = ["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Valence", "Arousal"]
    c = cosine_report(torch.randn(9, 5), names, n_perm=50)
    assert c.loc[("classifier cosine", "prototype cosine"), "entries"] == 15  # the 6 emotions' pairs
