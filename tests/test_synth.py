"""Synthetic faces: determinism, item contract, folds, BP4D label statistics, AU localisation,
occluders, export and gallery."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from afg.data.stats import conditional_probabilities, occurrence_rates, training_statistics
from afg.data.synth import (
    ALL_AUS,
    AU_REGIONS,
    OCCLUDED_AUS,
    PROFILES,
    SynthFaces,
    au_gallery,
    export_list_format,
    region_mask,
    render_face,
    sample_au_labels,
)
from afg.data.synth.labels import BP4D_GRAPH, BP4D_RATES, sample_balanced_labels, target_statistics
from afg.viz import save_figure


def _amps(au: int | None, value: float = 1.0) -> np.ndarray:
    a = np.zeros(len(ALL_AUS))
    if au is not None:
        a[ALL_AUS.index(au)] = value
    return a


def _diff(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.abs(x.astype(np.float64) - y.astype(np.float64)).sum(-1)


def test_item_contract_and_determinism():
    ds = SynthFaces("disfa", n_subjects=4, images_per_subject=3, size=64, occlusion_rate=0.5, seed=3)
    assert len(ds) == 12
    assert ds.au_names == ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]
    assert list(ds.expression_names) == ["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger"]
    assert list(ds.emotion_names) == list(ds.expression_names[1:]) and ds.num_expressions == 7
    x = ds[5]
    assert x["image"].shape == (3, 64, 64) and x["image"].dtype == torch.float32
    assert x["image"].min() < 0  # ImageNet-normalised, not [0, 1]
    assert x["aus"].shape == (8,) and torch.equal(x["aus"], x["au"])
    assert set(x["aus"].unique().tolist()) <= {0.0, 1.0}
    assert x["au_mask"].dtype == torch.bool and bool(x["au_mask"].all())
    assert x["landmarks"].shape == (68, 2)
    assert float(x["landmarks"].min()) > 0 and float(x["landmarks"].max()) < 64
    assert x["va"].shape == (2,) and x["va"][0].item() == pytest.approx(x["valence"])
    assert torch.equal(x["emotions"], x["expression_multilabel"]) and x["emotions"].shape == (6,)
    assert x["expression"].dtype == torch.long and 0 <= int(x["expression"]) < 7
    assert int(x["compound"]) >= -1
    assert torch.equal(x["occluded"], ~x["visible"])
    assert ((x["au_intensity"] >= 1.5) == (x["aus"] > 0)).all()
    # same (seed, index) -> same sample, across instances; another seed differs
    ds2 = SynthFaces("disfa", n_subjects=4, images_per_subject=3, size=64, occlusion_rate=0.5, seed=3)
    y = ds2[5]
    assert torch.equal(x["image"], y["image"]) and torch.equal(x["aus"], y["aus"])
    assert torch.equal(x["landmarks"], y["landmarks"])
    ds3 = SynthFaces("disfa", n_subjects=4, images_per_subject=3, size=64, occlusion_rate=0.5, seed=4)
    assert not torch.equal(ds3[5]["image"], x["image"])
    # the raw image is what the tensor encodes
    raw = ds.render(5)
    assert raw.dtype == np.uint8 and raw.shape == (64, 64, 3)
    assert np.array_equal(ds.sample(5, normalize=False)["image"], raw)


def test_labels_without_rendering_match_items():
    ds = SynthFaces("all", n_subjects=3, images_per_subject=4, size=64, occlusion_rate=0.3)
    lab = ds.labels()
    assert lab["au"].shape == (12, 18) and lab["va"].shape == (12, 2) and lab["emotions"].shape == (12, 6)
    for i in (0, 7, 11):
        x = ds[i]
        assert np.array_equal(lab["au"][i], x["au"].numpy())
        assert lab["expression"][i] == int(x["expression"])
        assert np.array_equal(lab["visible"][i], x["visible"].numpy())
    st = training_statistics(ds)
    assert st["au_labels"].shape == (12, 18) and st["expression_counts"].shape == (7,)


def test_folds_are_subject_disjoint_and_cover_everything():
    ds = SynthFaces("bp4d", n_subjects=10, images_per_subject=4, size=64)
    folds = ds.folds(3)
    assert len(folds) == 3
    seen = []
    for tr, te in folds:
        subj_tr, subj_te = set(ds.sample_subjects[tr]), set(ds.sample_subjects[te])
        assert not subj_tr & subj_te
        assert len(tr) + len(te) == len(ds)
        seen.extend(te.tolist())
    assert sorted(seen) == list(range(len(ds)))
    assert len(ds.subjects) == 10


def test_bp4d_statistics_and_au_gcn_graph():
    y = sample_au_labels("bp4d", 50_000, seed=0)
    assert y.shape == (50_000, 12)
    assert np.abs(occurrence_rates(y) - BP4D_RATES).max() < 0.02
    m = conditional_probabilities(y)
    graph = ((m + m.T) >= 0.8).astype(int) | np.eye(12, dtype=int)
    assert np.array_equal(graph, BP4D_GRAPH)  # AU-GCN Table 1(a)


def test_sample_au_labels_deterministic_and_shaped():
    for profile, aus in PROFILES.items():
        a = sample_au_labels(profile, 500, seed=1)
        assert a.shape == (500, len(aus)) and set(np.unique(a)) <= {0, 1}
        assert np.array_equal(a, sample_au_labels(profile, 500, seed=1))
        assert not np.array_equal(a, sample_au_labels(profile, 500, seed=2))
    # the 'all' profile keeps EmotioNet's statistics on EmotioNet's AUs
    y = sample_au_labels("all", 20_000, seed=0)
    cols = [ALL_AUS.index(a) for a in PROFILES["emotionet"]]
    assert np.abs(y[:, cols].mean(0) - target_statistics("emotionet")["rates"]).max() < 0.01


def test_expressions_follow_emfacs_prototypes():
    ds = SynthFaces("all", n_subjects=50, images_per_subject=40)
    lab = ds.labels()
    au = {a: lab["au"][:, k] for k, a in enumerate(ALL_AUS)}
    happy = lab["expression"] == 1
    assert happy.sum() > 50 and au[12][happy].mean() == 1.0
    neutral = lab["expression"] == 0
    assert lab["emotions"][neutral].sum() == 0
    assert lab["va"][happy, 0].mean() > 0.3 > lab["va"][neutral, 0].mean()
    multi = lab["emotions"].sum(1) >= 2
    assert np.all(lab["emotions"][~multi].sum(1) == (lab["expression"][~multi] > 0))


@pytest.mark.parametrize("by", ["expression", "emotions"])
def test_balanced_labels(by):
    """Equal class counts; every row is still a draw of the label model (expression = the best
    active prototype, V/A follow it); the same seed gives the same labels."""
    ds = SynthFaces("bp4d", n_subjects=10, images_per_subject=10, balance=by)
    lab = ds.labels()
    counts = np.bincount(lab["expression"], minlength=7)
    if by == "expression":
        assert counts.min() >= 14 and counts.max() <= 15 and counts.sum() == 100
    else:
        assert counts[0] == 0 and counts[1:].min() >= 16 and counts[1:].max() <= 17
        assert (lab["emotions"].sum(1) >= 1).all() and (lab["emotions"].sum(1) >= 2).mean() > 0.3
    au = {a: lab["au"][:, k] for k, a in enumerate(ds.aus)}
    assert au[12][lab["expression"] == 1].mean() == 1.0  # Happy needs AU12
    emo = lab["emotions"].astype(bool)
    assert all(emo[i, e - 1] for i, e in enumerate(lab["expression"]) if e > 0)
    again = SynthFaces("bp4d", n_subjects=10, images_per_subject=10, balance=by).labels()
    assert np.array_equal(again["expression"], lab["expression"]) and np.array_equal(again["au"], lab["au"])
    item = ds[3]
    assert int(item["expression"]) == lab["expression"][3]


def test_balance_rejects_what_a_profile_cannot_produce():
    with pytest.raises(ValueError, match="Fear"):
        sample_balanced_labels("disfa", 70, np.random.default_rng(0), max_pool=30_000)
    with pytest.raises(ValueError, match="balance"):
        SynthFaces("bp4d", 2, 2, balance="au")


@pytest.mark.parametrize("au", ALL_AUS)
def test_au_change_is_localised(au):
    mask = region_mask(au, 112)
    inside = total = 0.0
    for sid in (0, 1, 2):
        d = _diff(render_face(sid, _amps(None))[0], render_face(sid, _amps(au))[0])
        assert d.sum() > 500, f"AU{au} leaves no visible trace on subject {sid}"
        inside += d[mask].sum()
        total += d.sum()
    assert inside / total >= 0.7, f"AU{au}: only {inside / total:.2f} of the change inside {AU_REGIONS[au]}"


@pytest.mark.parametrize("occluder", sorted(OCCLUDED_AUS))
def test_occluders_remove_evidence(occluder):
    for au in sorted(OCCLUDED_AUS[occluder]):
        for sid in (0, 3):
            free = _diff(render_face(sid, _amps(None))[0], render_face(sid, _amps(au))[0]).sum()
            hidden = _diff(render_face(sid, _amps(None), occluder=occluder)[0],
                           render_face(sid, _amps(au), occluder=occluder)[0]).sum()
            assert hidden <= 0.02 * free, f"{occluder} leaks AU{au}: {hidden / free:.3f}"
    # an AU it does not cover stays visible (the mouth under sunglasses, the brows above a mask)
    other = 12 if occluder in ("sunglasses", "fringe") else 1
    free = _diff(render_face(0, _amps(None))[0], render_face(0, _amps(other))[0]).sum()
    kept = _diff(render_face(0, _amps(None), occluder=occluder)[0],
                 render_face(0, _amps(other), occluder=occluder)[0]).sum()
    assert kept > 0.5 * free


def test_visible_flags_follow_occluders():
    ds = SynthFaces("all", n_subjects=4, images_per_subject=25, occlusion_rate=0.5, size=64)
    lab = ds.labels()
    n_occ = 0
    for i in range(len(ds)):
        kind = ds.occluder(i)
        expect = np.array([not (kind and a in OCCLUDED_AUS[kind]) for a in ALL_AUS])
        assert np.array_equal(lab["visible"][i], expect)
        n_occ += kind is not None
    assert 25 <= n_occ <= 75


def test_jaw_drop_moves_chin_landmark_and_intensity_api():
    ds = SynthFaces("disfa", n_subjects=2, images_per_subject=1, nuisances=False)
    _, lm0 = render_face(0, _amps(None))
    _, lm1 = render_face(0, _amps(26))
    assert lm1[8, 1] - lm0[8, 1] > 4  # chin (landmark 8) drops by several pixels at 112 px
    assert abs(lm1[36, 1] - lm0[36, 1]) < 1e-4  # eyes do not move
    a = ds.render_subject(1, {12: 5})
    b = ds.render_subject(1, np.eye(8)[5] * 5)  # AU12 in the disfa order
    assert np.array_equal(a, b) and not np.array_equal(a, ds.render_subject(1))


def test_export_list_format(tmp_path):
    ds = SynthFaces("disfa", n_subjects=3, images_per_subject=2, size=64)
    files = export_list_format(ds, tmp_path)
    paths = files["fold1_test_img_paths"].read_text().split("\n")[:-1]
    rows = files["fold1_test_labels"].read_text().split("\n")[:-1]
    assert len(paths) == len(rows) == 2
    assert all((tmp_path / p).is_file() for p in paths)
    assert all(len(r.split(" ")) == 8 and set(r.split(" ")) <= {"0", "1"} for r in rows)
    all_rows = np.loadtxt(files["all_labels"], ndmin=2)
    assert np.array_equal(all_rows, ds.labels()["au"])
    assert len(files["fold2_train_img_paths"].read_text().split("\n")[:-1]) == 4


def test_gallery_writes_png(tmp_figures):
    fig = au_gallery(subjects=(0, 1), size=64)
    save_figure(fig, "synth_au_gallery", formats=("png",), dpi=60)
    assert (tmp_figures / "synth_au_gallery.png").is_file()
    assert len([ax for ax in fig.axes if ax.images]) == 2 + 19
    import matplotlib.pyplot as plt

    plt.close(fig)
