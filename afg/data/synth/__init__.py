"""Embedded default dataset: procedural 68-landmark faces with 18 AUs and real label statistics.

Submodules: :mod:`~afg.data.synth.labels` (fitted AU occurrence model, EMFACS expressions,
valence/arousal), :mod:`~afg.data.synth.face` (identities, landmark template, AU motions, AU
regions), :mod:`~afg.data.synth.render` (rasteriser, nuisances, occluders),
:mod:`~afg.data.synth.realism` (:class:`Realism`: intensity-dependent amplitude, resting faces,
head pose; off by default), :mod:`~afg.data.synth.dataset` (:class:`SynthFaces`,
:func:`export_list_format`) and :mod:`~afg.data.synth.gallery` (:func:`au_gallery`). Every
parameter and the measured headroom: ``docs/synthetic.md``.
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
from .realism import REALISM_PRESETS, RESTING_TRAITS, Realism, resting_offsets
from .render import OCCLUDED_AUS, OCCLUDERS, region_mask, render_face, sample_nuisance

#: version of the generator's output; bump when the same (seed, index) renders differently
#: (part of the run-cache and pretrained-weights keys). ``realism`` options add new faces without
#: changing the old ones (``realism=None`` renders version 1 bit for bit), so they need no bump;
#: the realism options are part of ``data.options`` and hence of the run-cache key.
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
    "REALISM_PRESETS",
    "RESTING_TRAITS",
    "Realism",
    "SynthFaces",
    "au_gallery",
    "au_model",
    "export_list_format",
    "make_subject",
    "neutral_landmarks",
    "region_mask",
    "render_face",
    "resting_offsets",
    "sample_au_labels",
    "sample_balanced_labels",
    "sample_labels",
    "sample_nuisance",
    "target_statistics",
]
