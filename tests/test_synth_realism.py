"""Realism options of the synthetic faces (issue #26): ``realism=None`` is generator version 1 bit
for bit; the amplitude curve, the unlabelled identity-specific resting faces and the head pose
behave as documented in :mod:`afg.data.synth.realism`, and each of them changes the images."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from afg.data.synth import (
    ALL_AUS,
    GENERATOR_VERSION,
    RESTING_TRAITS,
    Realism,
    SynthFaces,
    render_face,
)
from afg.data.synth.realism import HEAD_DEPTH, NOSE_DEPTH
from afg.data.synth.render import Nuisance

# sha256 of the 12 images / landmarks of _pinned() and of one render_subject, computed with the
# generator *before* the realism option existed (commit e315932): any change of version 1 fails.
PINNED_IMAGES = "11150b1c99e1fcc1dd27b0f366e89e78d8d39fd16bf58ca5491f475d9f7f180d"
PINNED_LANDMARKS = "51dd1d27c7e4fee7150c53818cfc2070758da9bd38d151ad7012390fbf3d915a"
PINNED_SUBJECT = "62adc808e2261c3780c161ab4284de51fb19cb29f85c4e5b7bd2d9577874f621"


def _pinned(**kw) -> SynthFaces:
    return SynthFaces("all", n_subjects=3, images_per_subject=4, size=64, occlusion_rate=0.5, seed=7, **kw)


def _images_sha(ds: SynthFaces) -> str:
    h = hashlib.sha256()
    for i in range(len(ds)):
        h.update(ds.render(i).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("realism", ["absent", None, "none", Realism(), {"gamma": 1.0, "yaw": 0}])
def test_no_realism_is_generator_version_1_bit_for_bit(realism):
    assert GENERATOR_VERSION == 1
    ds = _pinned() if realism == "absent" else _pinned(realism=realism)
    assert ds.realism is None
    assert _images_sha(ds) == PINNED_IMAGES
    h = hashlib.sha256()
    for i in range(len(ds)):
        h.update(ds.sample(i, normalize=False)["landmarks"].numpy().round(3).tobytes())
    assert h.hexdigest() == PINNED_LANDMARKS
    d = SynthFaces("disfa", n_subjects=2, images_per_subject=2, size=112, seed=0,
                   **({} if realism == "absent" else {"realism": realism}))
    assert hashlib.sha256(d.render_subject(1, {12: 3, 4: 2}).tobytes()).hexdigest() == PINNED_SUBJECT
    assert repr(ds).endswith("seed=7)")


def test_amplitude_gain_is_convex_monotone_and_below_linear():
    real = Realism.preset("real")
    assert real.gamma == 2.0
    i = np.linspace(0.0, 5.0, 501)
    g = real.gain(i)
    assert g[0] == 0.0 and g[-1] == 1.0
    assert np.all(np.diff(g) > 0)  # monotone
    inner = (i > 0) & (i < 5)
    assert np.all(g[inner] < i[inner] / 5.0)  # weaker than linear below the maximum
    assert real.gain(2.0) == pytest.approx(0.16) and real.gain(3.0) == pytest.approx(0.36)
    assert np.array_equal(Realism().gain(i), i / 5.0)
    # the dataset's amplitudes: evidence * g(I), never above the linear ones, equal at 0 and 5
    lin = SynthFaces("all", n_subjects=2, images_per_subject=10, seed=1)
    conv = SynthFaces("all", n_subjects=2, images_per_subject=10, seed=1, realism={"gamma": 2})
    for k in range(len(lin)):
        a, b = lin.amplitudes(k), conv.amplitudes(k)
        inten = lin.labels()["au_intensity"][k]
        assert np.all(b <= a + 1e-12)
        assert np.allclose(b, np.array([conv.evidence[a] for a in ALL_AUS]) * (inten / 5.0) ** 2)
        active = inten >= 1.5
        assert np.all(b[active] < a[active]) or np.all(inten[active] == 5.0)


def test_resting_offsets_depend_on_the_subject_only_and_are_unlabelled():
    real = Realism.preset("real")
    a = SynthFaces("disfa", n_subjects=30, images_per_subject=2, seed=0, realism="real")
    b = SynthFaces("bp4d", n_subjects=10, images_per_subject=5, seed=9, subject_offset=20, realism="real")
    for sid in range(20, 30):  # the same subject in another dataset, seed and profile
        for x, y in zip(a.resting(sid), b.resting(f"S{sid:03d}")):
            assert np.array_equal(x, y)
    offsets = [np.concatenate(a.resting(s)) for s in range(30)]
    assert len({o.tobytes() for o in offsets}) >= 20  # subjects differ
    assert any(o.any() for o in offsets) and not all(o.any() for o in offsets)
    # trait frequency and size distribution over many subjects
    has = np.zeros(len(RESTING_TRAITS))
    n = 600
    for s in range(n):
        geo, shade = real.resting_offsets(s)
        for k, (aus, channel) in enumerate(RESTING_TRAITS.values()):
            j = ALL_AUS.index(aus[0])
            v = geo[j] if channel != "shading" else shade[j]
            has[k] += v > 0
            assert v == 0 or 0.25 * real.resting <= v <= real.resting
            assert (geo[j] > 0) == (v > 0 and channel != "shading")
            assert (shade[j] > 0) == (v > 0 and channel != "geometry")
    assert np.all(np.abs(has / n - real.resting_rate) < 0.07)
    # not in the labels: realism never changes a label
    plain = SynthFaces("disfa", n_subjects=30, images_per_subject=2, seed=0)
    for key, v in plain.labels().items():
        assert np.array_equal(v, a.labels()[key]), key
    # a subject with resting traits looks different at rest; one without does not
    sid_with = next(s for s in range(30) if a.resting(s)[0].any())
    sid_without = next(s for s in range(30) if not np.concatenate(a.resting(s)).any())
    rest_only = SynthFaces("disfa", 30, 2, realism={"resting": 0.3})
    assert not np.array_equal(rest_only.render_subject(sid_with), plain.render_subject(sid_with))
    assert np.array_equal(rest_only.render_subject(sid_without), plain.render_subject(sid_without))


def test_yaw_foreshortens_mirrored_landmarks_and_shifts_the_nose():
    size, yaw = 112, 30.0
    _, lm0 = render_face(2, np.zeros(len(ALL_AUS)), size, Nuisance())
    _, lm1 = render_face(2, np.zeros(len(ALL_AUS)), size, Nuisance(yaw=yaw))
    c = np.cos(np.deg2rad(yaw))
    for left, right in ((0, 16), (36, 45), (17, 26), (48, 54), (3, 13)):  # mirrored pairs, equal depth
        assert lm1[right, 0] - lm1[left, 0] == pytest.approx(c * (lm0[right, 0] - lm0[left, 0]), abs=2e-3)
    # nose tip (landmark 30, at x = 0, y = nose_y): depth 0.55 * sqrt(1 - ((y + .15) / 1.25)^2) + 0.30;
    # px = 56 + 0.36 * 112 * (z - HEAD_DEPTH / 2) * sin(yaw) (origin x = 0 at the image centre)
    from afg.data.synth import make_subject

    ny = make_subject(2).nose_y
    z = HEAD_DEPTH * np.sqrt(1 - ((ny + 0.15) / 1.25) ** 2) + NOSE_DEPTH
    assert lm0[30, 0] == pytest.approx(56.0, abs=1e-3)
    assert lm1[30, 0] == pytest.approx(56.0 + 0.36 * size * (z - HEAD_DEPTH / 2) * np.sin(np.deg2rad(yaw)), abs=2e-3)
    # the near half (viewer's left, away from the turn) widens, the far half narrows
    mid = lm1[30, 0]
    assert (mid - lm1[0, 0]) > (lm1[16, 0] - mid) + 5
    # pitch keeps every x and moves the nose tip down more than the brows
    _, lm2 = render_face(2, np.zeros(len(ALL_AUS)), size, Nuisance(pitch=15.0))
    assert np.allclose(lm2[:, 0], lm0[:, 0], atol=1e-3)
    assert (lm2[30, 1] - lm0[30, 1]) > (lm2[19, 1] - lm0[19, 1]) + 1


@pytest.mark.parametrize("realism", [{"gamma": 2.0}, {"resting": 0.3, "resting_rate": 1.0},
                                     {"yaw": 10.0}, {"pitch": 6.0}, "real"])
def test_each_property_changes_the_images_not_the_labels(realism):
    plain = SynthFaces("all", n_subjects=3, images_per_subject=4, size=64, seed=2)
    ds = SynthFaces("all", n_subjects=3, images_per_subject=4, size=64, seed=2, realism=realism)
    changed = sum(not np.array_equal(plain.render(i), ds.render(i)) for i in range(len(ds)))
    assert changed >= 10, f"{realism}: only {changed} of 12 images change"
    for key, v in plain.labels().items():
        assert np.array_equal(v, ds.labels()[key]), key
    if "yaw" in realism or "pitch" in realism:  # pose is a nuisance: off with nuisances=False
        canon = SynthFaces("all", n_subjects=3, images_per_subject=4, size=64, seed=2, nuisances=False)
        posed = SynthFaces("all", n_subjects=3, images_per_subject=4, size=64, seed=2, nuisances=False,
                           realism=realism)
        assert np.array_equal(canon.render(5), posed.render(5)) and posed.pose(5) == (0.0, 0.0)
        yaw, pitch = ds.pose(5)
        assert (yaw != 0.0) == ("yaw" in realism) and (pitch != 0.0) == ("pitch" in realism)


def test_pose_draws_are_clipped_and_spread_as_documented():
    r = Realism(yaw=10.0, pitch=6.0)
    poses = np.array([r.pose(0, i) for i in range(3000)])
    assert np.abs(poses[:, 0]).max() <= 30.0 and np.abs(poses[:, 1]).max() <= 20.0
    assert poses[:, 0].std() == pytest.approx(10.0, rel=0.08)
    assert poses[:, 1].std() == pytest.approx(6.0, rel=0.08)
    assert r.pose(0, 5) == r.pose(0, 5) != r.pose(1, 5)


def test_realism_option_forms_and_the_yaml_path():
    assert Realism.coerce(None) is None and Realism.coerce("none") is None
    real = Realism.preset("real")
    assert Realism.coerce("real") == real == Realism.coerce({"preset": "real"})
    assert Realism.coerce({"preset": "real", "yaw": 0}) == Realism(gamma=2.0, resting=0.3, pitch=6.0)
    assert repr(Realism.coerce({"gamma": 2})) == repr(Realism(gamma=2.0))  # deterministic cache key
    with pytest.raises(ValueError, match="unknown realism fields"):
        Realism.coerce({"gama": 2})
    with pytest.raises(ValueError, match="preset"):
        Realism.coerce("photoreal")
    with pytest.raises(ValueError, match="gamma"):
        Realism(gamma=0.0)
    with pytest.raises(TypeError):
        Realism.coerce(2.0)  # type: ignore[arg-type]
    # data.options: {realism: {...}} of an experiment config reaches SynthFaces
    from afg.data.build import _synthetic
    from afg.data.spec import DataSpec

    spec = DataSpec(n_subjects=3, images_per_subject=2, size=64, cache=False,
                    options={"realism": {"preset": "real", "pitch": 0}})
    ds = _synthetic(spec)
    assert ds.realism == Realism(gamma=2.0, resting=0.3, yaw=10.0)
    assert "realism=Realism(gamma=2.0" in repr(ds)
