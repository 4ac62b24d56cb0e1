"""``Predictor`` output columns against known values: a model whose logits and valence/arousal
are fixed must come out column for column (each expression column holds the softmax probability
of *its* class, valence is valence and arousal is arousal, the row order is the input order).
Sums, ranges and argmax consistency alone let a permutation of the columns or a V/A swap pass.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from afg.predict import Predictor

NAMES = ["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger"]
# distinct logits (no two classes tie) per face; distinct valence and arousal (never equal)
LOGITS = torch.tensor([[0.3, 2.0, -1.0, 0.1, -0.5, 1.2, -2.0],
                       [1.5, -0.2, 0.4, -1.3, 2.2, 0.0, 0.7],
                       [-0.8, 0.6, 1.9, 0.2, -0.1, -1.7, 1.1]])
VA = torch.tensor([[0.61, -0.23], [-0.42, 0.88], [0.05, -0.77]])


class FixedExpressionModel(nn.Module):
    """Face ``i`` of every batch (in order) gets ``LOGITS[i]`` and ``VA[i]`` whatever its pixels."""

    task = "expression"

    def __init__(self):
        super().__init__()
        self.label_names = list(NAMES)
        self.model_config = {"name": "emotion_gcn", "num_classes": 7, "img_size": 32}
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the Predictor a device

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b = x.shape[0]
        return {"expression": LOGITS[:b] + 0 * self.anchor, "va": VA[:b] + 0 * self.anchor}


@pytest.fixture()
def predicted() -> pd.DataFrame:
    faces = [np.full((32, 32, 3), 40 * (i + 1), np.uint8) for i in range(3)]
    return Predictor(FixedExpressionModel(), device="cpu", batch_size=8).predict(faces, detect=False)


def test_expression_columns_are_the_softmax_of_their_own_class(predicted):
    expected = torch.softmax(LOGITS, -1).numpy()
    # hand-checked entry: face 0's Happy probability is e^2 / sum(e^logits)
    row0 = LOGITS[0].double()
    assert expected[0, 1] == pytest.approx(float(torch.exp(row0[1]) / torch.exp(row0).sum()), rel=1e-6)
    cols = [c for c in predicted.columns if c in NAMES]
    assert cols == NAMES  # the class order of the model, no other order
    for j, name in enumerate(NAMES):
        np.testing.assert_allclose(predicted[name].to_numpy(float), expected[:, j], rtol=1e-5,
                                   err_msg=f"column {name!r} is not the probability of class {j}")
    assert list(predicted["expression"]) == [NAMES[int(i)] for i in LOGITS.argmax(1)]


def test_valence_and_arousal_are_not_swapped(predicted):
    np.testing.assert_allclose(predicted["valence"].to_numpy(float), VA[:, 0].numpy(), rtol=1e-6,
                               err_msg="valence column")
    np.testing.assert_allclose(predicted["arousal"].to_numpy(float), VA[:, 1].numpy(), rtol=1e-6,
                               err_msg="arousal column")
