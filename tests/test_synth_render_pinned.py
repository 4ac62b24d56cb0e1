"""``render_face`` is pinned bit for bit: the image and landmark hashes of a few faces covering
every drawing branch (each AU at full and at partial amplitude, parted lips, every occluder, the
pixel nuisances, head yaw/pitch, resting offsets, supersampling 1 and 3) were taken from the
generator before its body was split by concern (#48); any change of the drawing fails here."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from afg.data.synth import ALL_AUS, GENERATOR_VERSION
from afg.data.synth.render import OCCLUDERS, Nuisance, render_face, sample_nuisance


def _cases() -> dict[str, dict]:
    n = len(ALL_AUS)
    rng = np.random.default_rng(3)
    posed = sample_nuisance(np.random.default_rng(11))
    posed.yaw, posed.pitch = 12.0, -7.0
    cases = {
        "neutral": {"subject": 0, "amplitudes": np.zeros(n)},
        "all_full": {"subject": 1, "amplitudes": np.ones(n)},
        "random_nuisance": {"subject": 2, "amplitudes": rng.uniform(0, 1, n),
                            "nuisance": sample_nuisance(np.random.default_rng(5))},
        "posed_rest": {"subject": 3, "amplitudes": rng.uniform(0, 0.6, n), "nuisance": posed,
                       "rest": (rng.uniform(0, 0.3, n), rng.uniform(0, 0.3, n))},
        "ss1_blur": {"subject": 4, "amplitudes": rng.uniform(0, 1, n), "supersample": 1,
                     "nuisance": Nuisance(blur=0.2, noise=3.0, noise_seed=27, light=0.3, background=9)},
        "ss3_size64": {"subject": 5, "amplitudes": rng.uniform(0, 1, n), "supersample": 3, "size": 64},
    }
    for k, occ in enumerate(OCCLUDERS):
        cases[f"occ_{occ}"] = {"subject": 10 + k, "amplitudes": rng.uniform(0, 1, n), "occluder": occ}
    for k in range(n):  # each AU alone, at full amplitude
        a = np.zeros(n)
        a[k] = 1.0
        cases[f"au{ALL_AUS[k]}"] = {"subject": 20 + k % 3, "amplitudes": a, "size": 64}
    return cases


def _digest(kw: dict) -> tuple[str, str]:
    img, lm = render_face(**kw)
    return hashlib.sha256(img.tobytes()).hexdigest()[:16], hashlib.sha256(lm.tobytes()).hexdigest()[:16]


# (image, landmarks) sha256 prefixes, taken at commit fdd7d94 (before the split) with this venv's Pillow
PINNED: dict[str, tuple[str, str]] = {
    'all_full': ('2d4f3cced514ba8b', '225a8ac4bd19f1a5'),
    'au1': ('22666557444642ae', 'a4aeeaed676f5c0f'),
    'au10': ('a9f7a8f126eaa4f7', '87fb61bac41887b8'),
    'au12': ('3c0185dc5f83ed60', '3055072474b96ed7'),
    'au14': ('6026a19febe42da1', '59ac7ab0e1066a1b'),
    'au15': ('576f6891facdb439', 'a16fe43e1012c1f2'),
    'au17': ('d8523c180b529ad0', 'b8da7f4d0b1ecc1e'),
    'au2': ('32d4039ab074da1e', 'eca9daaa333e77b3'),
    'au20': ('0ec4a507d4a92080', 'b0cb7e958bb96f4d'),
    'au23': ('b5bd5f568c95913b', '1ca47e3abe0c8ee5'),
    'au24': ('8d4de0315184c91f', '0d980fa2626a912d'),
    'au25': ('b6df96e6395e1e88', '4801a76b1815320a'),
    'au26': ('8d1c056d42b6a8dc', '3d048d5442f1dbd0'),
    'au4': ('7605b40c5b927467', '22ed26f29c8dfda8'),
    'au43': ('c2bea42aa8a7f86f', '55f72e56e76c5026'),
    'au5': ('2c067c5d7a2c29d9', '313e18d102212c00'),
    'au6': ('61cba709fc995163', 'cc800887c4ac4371'),
    'au7': ('654ddf05357cc918', 'cf9d3d0031c4f8e3'),
    'au9': ('5fafaf48cf11df93', 'f4e3ee0a6ef140c6'),
    'neutral': ('f0af21aedc7b7fe9', 'af85567e76766653'),
    'occ_fringe': ('ddb2b1c6fe14c1c2', 'f49c2bbb89500905'),
    'occ_hand': ('0e2f4b048dbe2a44', '69ea998dd217be7b'),
    'occ_mask': ('b3614d3dd5d2fc23', '086184c7a0a5bb20'),
    'occ_sunglasses': ('b263b3056fad7782', '50e9d4a4273dc8a5'),
    'posed_rest': ('f8d915efe8d1b740', '3a72c6df00de9b25'),
    'random_nuisance': ('68eead06b81d6108', '114d60cf6d2252fa'),
    'ss1_blur': ('fd230b76b4d0aa1d', '0c57fc3295864e5a'),
    'ss3_size64': ('8827b855041991f2', 'a9d268606ac35b40'),
}


@pytest.mark.parametrize("name", sorted(_cases()))
def test_render_face_is_pinned(name):
    assert GENERATOR_VERSION == 1
    assert _digest(_cases()[name]) == PINNED[name]


def test_unknown_occluder_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown occluder 'hat'"):
        render_face(0, np.zeros(len(ALL_AUS)), occluder="hat")
