"""Miniature Aff-Wild2 (Kollias & Zafeiriou, BMVC 2019), the ABAW challenges' annotation release.

Format, as the ABAW challenges' ``README`` and :class:`afg.data.datasets.AffWild2` read it:
``annotations/{EXPR_Classification_Challenge, VA_Estimation_Challenge, AU_Detection_Challenge}/
{Train_Set, Validation_Set}/{video}.txt`` (the ABAW3+ names; ABAW2 used ``EXPR_Set`` …), one file
per video and task: a header line — ``Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,
Other``, ``valence,arousal`` or ``AU1,AU2,…,AU26`` — then line j+1 labels frame j (from 1): a
class index, ``-1`` = invalid; two values in [−1, 1], ``-5`` = invalid; 12 AU values 0/1, ``-1``
= invalid. The faces are ``cropped_aligned/{video}/{frame:05d}.jpg`` (112 px, already aligned),
and frames where the organisers' detector found no face have no image. Videos with two persons are
annotated as ``{video}_left`` and ``{video}_right``. Not every video is annotated for every task.
Protocol (Emotion-GCN): train on ``Train_Set``, test on ``Validation_Set``, the frames with both an
expression (7 basic classes) and valence/arousal.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..synth import ALL_AUS, sample_labels
from ..synth.labels import CIRCUMPLEX, EMOTION_NAMES
from ._faces import face, save
from ._labels import vary_within

__all__ = ["make_fake_affwild2_release"]

EXPR_HEADER = "Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other"
AU_HEADER = "AU1,AU2,AU4,AU6,AU7,AU10,AU12,AU15,AU23,AU24,AU25,AU26"
#: (video, split, tasks annotated, expression of its 3 frames, -1 = invalid); ``118-30-640x480``
#: has V/A and AUs but no expression file; the training videos hold every class (Other too)
VIDEOS = (
    ("1-30-1280x720", "Train_Set", ("EXPR", "VA", "AU"), (0, -1, 4)),
    ("118-30-640x480", "Train_Set", ("VA", "AU"), (0, 0, 0)),
    ("12-24-1920x1080_left", "Train_Set", ("EXPR", "VA"), (1, 2, 3)),
    ("12-24-1920x1080_right", "Train_Set", ("EXPR", "VA"), (5, 6, 7)),
    ("video59", "Validation_Set", ("EXPR", "VA", "AU"), (0, 4, 6)),
    ("30-30-1920x1080_left", "Validation_Set", ("EXPR", "VA"), (1, 7, 3)),
)
_DIRS = {"EXPR": "EXPR_Classification_Challenge", "VA": "VA_Estimation_Challenge",
         "AU": "AU_Detection_Challenge"}
#: Aff-Wild2 class → the generator's emotion name (Neutral and Other: none)
_EMOTION = {1: "Anger", 2: "Disgust", 3: "Fear", 4: "Happy", 5: "Sad", 6: "Surprise"}


def make_fake_affwild2_release(root: str | os.PathLike, size: int = 112, with_failures: bool = True,
                               seed: int = 0) -> Path:
    """A tiny Aff-Wild2: the videos of :data:`VIDEOS`, 3 frames each.

    Expressions as listed there; valence/arousal around each class's circumplex position
    (``afg.data.synth.labels.CIRCUMPLEX``); AUs from the synthetic model's 18-AU profile
    (EmotioNet + BP4D statistics), made present and absent in every video
    (:func:`._labels.vary_within`). With ``with_failures`` (else those rows are valid): frame 2 of
    ``1-30-1280x720`` has expression ``-1`` and AUs ``-1``; in ``118-30-640x480`` frame 1 has V/A
    ``-5,-5`` and frame 3 no face image.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    n = 3
    au_cols = [int(a[2:]) for a in AU_HEADER.split(",")]
    k = 0
    for v, (video, split, tasks, cls) in enumerate(VIDEOS):
        aus = sample_labels("all", n, rng)["occurrence"]  # (n, 18) over ALL_AUS
        cols = [ALL_AUS.index(a) for a in au_cols]
        gone = np.zeros((n, len(cols)), bool)
        gone[[t for t in range(n) if cls[t] < 0]] = with_failures
        aus[:, cols] = vary_within(aus[:, cols], [range(n)], gone)
        va = np.zeros((n, 2))
        for t, c in enumerate(cls):
            centre = np.zeros(2) if c not in _EMOTION else CIRCUMPLEX[EMOTION_NAMES.index(_EMOTION[c])]
            va[t] = np.clip(0.7 * np.asarray(centre) + rng.normal(0, 0.1, 2), -1, 1)
        text = {"EXPR": [EXPR_HEADER], "VA": ["valence,arousal"], "AU": [AU_HEADER]}
        for t in range(n):
            bad = cls[t] < 0
            text["EXPR"].append(str(cls[t]) if (with_failures or not bad) else "0")
            text["VA"].append("-5,-5" if (with_failures and v == 1 and t == 0) else f"{va[t, 0]:.3f},{va[t, 1]:.3f}")
            row = [int(aus[t, ALL_AUS.index(a)]) for a in au_cols]
            text["AU"].append(",".join("-1" if (bad and with_failures) else str(x) for x in row))
            if with_failures and v == 1 and t == n - 1:
                k += 1
                continue  # no face found in this frame: no image
            save(root / "cropped_aligned" / video / f"{t + 1:05d}.jpg", face(k, size, 3.0 * aus[t]).image,
                 quality=90)
            k += 1
        for task in tasks:
            out = root / "annotations" / _DIRS[task] / split / f"{video}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("\n".join(text[task]) + "\n")
    return root
