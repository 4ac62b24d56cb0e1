"""Every figure afg draws, as functions returning matplotlib Figures; ``save_figure`` exports.

Notebooks only call these. Figures: K-NN node graphs (ME-GraphAU Fig. 4), adjacency heatmaps
(AU-GCN Table 1, Emotion-GCN Fig. 3, R-GCN relations), Grad-CAM grids (Li et al. Fig. 3,
SVML-RGCN Fig. 7), classifier cosine similarity (Emotion-GCN Fig. 6), confusion matrices,
per-AU F1 bars with the paper's numbers, sweep curves, ROIs on a face, the synthetic gallery,
AU predictions on a face and over a video's time (``afg predict --plot``), AU occurrence rates,
face alignment (MTCNN box, landmarks, aligned crop), AU-GCN's ROI reconstructions and results
tables drawn as figures (verdict tables for the README gallery).
"""
from .au import *
from .cam import *
from .export import *
from .faces import *
from .graphs import *
from .plots import *
from .rois import *
from .tables import *
