"""Embedded default dataset: procedural 68-landmark faces with 18 AUs and real label statistics.

Submodules: :mod:`~afg.data.synth.labels` (fitted AU occurrence model, EMFACS expressions,
valence/arousal), :mod:`~afg.data.synth.face` (identities, landmark template, AU motions, AU
regions), :mod:`~afg.data.synth.render` (rasteriser, nuisances, occluders),
:mod:`~afg.data.synth.dataset` (:class:`SynthFaces`, :func:`export_list_format`) and
:mod:`~afg.data.synth.gallery` (:func:`au_gallery`).
"""
from .dataset import SynthFaces, export_list_format
from .face import AU_REGIONS, DEFAULT_EVIDENCE, make_subject, neutral_landmarks
from .gallery import au_gallery
from .labels import (
    ALL_AUS,
    COMPOUND_NAMES,
    EMOTION_NAMES,
    EXPRESSION_NAMES,
    PROFILES,
    au_model,
    sample_au_labels,
    sample_balanced_labels,
    sample_labels,
    target_statistics,
)
from .render import OCCLUDED_AUS, OCCLUDERS, region_mask, render_face, sample_nuisance

#: version of the generator's output; bump when the same (seed, index) renders differently
#: (part of the run-cache and pretrained-weights keys)
GENERATOR_VERSION = 1

__all__ = [
    "ALL_AUS",
    "AU_REGIONS",
    "COMPOUND_NAMES",
    "DEFAULT_EVIDENCE",
    "EMOTION_NAMES",
    "EXPRESSION_NAMES",
    "GENERATOR_VERSION",
    "OCCLUDED_AUS",
    "OCCLUDERS",
    "PROFILES",
    "SynthFaces",
    "au_gallery",
    "au_model",
    "export_list_format",
    "make_subject",
    "neutral_landmarks",
    "region_mask",
    "render_face",
    "sample_au_labels",
    "sample_balanced_labels",
    "sample_labels",
    "sample_nuisance",
    "target_statistics",
]
