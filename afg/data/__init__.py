"""Data: synthetic faces (`synth`), face detection/alignment (`faces`), preparation (`prepare`),
official dataset adapters (`datasets`), label statistics (`stats`), AU regions (`rois`) and
image transforms (`transforms`). Import the submodule you need (``from afg.data.synth import SynthFaces``).
"""
