"""Data: synthetic faces (`synth`), face detection/alignment (`faces`), preparation (`prepare`)
and its manifest (`manifest`), official dataset adapters (`datasets`), label statistics (`stats`),
AU regions (`rois`), image transforms (`transforms`, `augment`, `device_augment`) and the dataset
wrappers with the one walk through them (`wrappers`: `base_dataset`, `base_positions`). Import the submodule you need
(``from afg.data.synth import SynthFaces``).
"""
