"""Paper-literal MAFG+CCFG rows (Li et al. 2025) and the trainer's incomplete last batch."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from afg import reference as ref
from afg.config import apply_overrides
from afg.experiments.config import build_model, load_experiment
from afg.models import create_model
from afg.nn.blocks import PerNodeLinear
from afg.nn.ccfg import CCFG
from afg.nn.heads import SimilarityHead
from afg.nn.mafg import MAFG, MultiScaleLinearAttention
from afg.train import fit

TINY = {"backbone": "resnet_tiny", "img_size": 32, "pretrained": False}


def _bns(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def test_ccfg_paper_mode_has_no_batchnorm_in_phi() -> None:
    paper = create_model("mafg_ccfg", 8, **TINY)
    official = create_model("mafg_ccfg", 8, official=True, **TINY)
    assert isinstance(paper.head.ccfg, CCFG) and not _bns(paper.head.ccfg)  # Eq. 12: pooling + FC
    assert paper.head.ccfg.node_linears.bn is None and not paper.head.ccfg.node_linears.relu
    assert len(_bns(official.head.ccfg)) == 1  # the authors' shared FC -> BN -> ReLU
    # Eq. 4's phi: FC -> BN, no ReLU (official: the authors' LinearBlocks with ReLU)
    assert paper.head.mafg.node_linears.bn is not None and not paper.head.mafg.node_linears.relu
    assert official.head.mafg.node_linears.relu


def test_resnet50_row_is_a_plain_classifier_without_per_au_blocks() -> None:
    for table in ("mafg_ccfg/table4", "mafg_ccfg/table5"):
        overrides = ref.variants(table)["ResNet50"]
        d = apply_overrides(load_experiment("configs/mafg_ccfg_disfa.yaml").to_dict(),
                            {**overrides, "model.backbone": "resnet_tiny", "model.pretrained": False,
                             "model.img_size": 32})
        model = build_model(d["model"]).eval()
        kinds = {type(m) for m in model.modules()}
        assert not kinds & {PerNodeLinear, SimilarityHead, MAFG, CCFG}, kinds
        assert not hasattr(model, "head") and not hasattr(model, "global_linear")
        x = torch.randn(2, 3, 32, 32)
        expected = torch.sigmoid(model.fc(model.backbone(x).mean(dim=1)))  # sigmoid(FC(GAP(X)))
        assert torch.allclose(model(x)["au"], expected)
        head_params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("backbone."))
        assert head_params == model.backbone.num_features * 8 + 8  # one FC layer, N = 8 outputs


def test_linear_head_refuses_the_graph_modules() -> None:
    with pytest.raises(ValueError, match="use_mafg"):
        create_model("mafg_ccfg", 8, head="linear", **TINY)
    with pytest.raises(ValueError, match="similarity"):
        create_model("mafg_ccfg", 8, head="mlp", **TINY)


@pytest.mark.parametrize("scales", [(3, 5), (5,)])
def test_evit_scales_are_configurable(scales) -> None:
    model = create_model("mafg_ccfg", 8, attention="evit", evit_scales=list(scales), use_gnn=False, use_ccfg=False,
                         **TINY)
    att = model.mafg.attention
    assert isinstance(att, MultiScaleLinearAttention)
    assert [blk[0].kernel_size for blk in att.aggreg] == [(s, s) for s in scales]
    assert model(torch.randn(2, 3, 32, 32))["au"].shape == (2, 8)
    assert ref.variants("mafg_ccfg/table4")["ResNet50+EVit"]["model.evit_scales"] == [3, 5]  # §4.4.1


class _Faces(torch.utils.data.Dataset):
    au_names = tuple(f"AU{i:02d}" for i in range(1, 9))

    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, 32, 32, generator=g)
        self.y = (torch.rand(n, 8, generator=g) > 0.5).float()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return {"image": self.x[i], "au": self.y[i]}

    def labels(self):
        return {"au": self.y.numpy()}


def test_training_drops_the_incomplete_last_batch() -> None:
    """9 faces in batches of 4 would leave a last batch of one, on which the authors' CCFG
    (BatchNorm over (B, 1, C)) raises; the trainer drops it: 2 steps per epoch."""
    torch.manual_seed(0)
    model = create_model("mafg_ccfg", 8, official=True, **TINY)
    with pytest.raises(ValueError, match="more than 1 value"):
        model.train()(_Faces(1).x)  # what a batch of one would do
    recipe = {"epochs": 2, "batch_size": 4, "optimizer": {"name": "adamw", "lr": 1e-3},
              "schedule": {"name": "constant"}, "device": "cpu", "progress": False}
    res = fit(model, _Faces(9), None, recipe)
    assert [row["step"] for row in res.history] == [2, 4]
    # a training set smaller than one batch still trains on it
    res = fit(create_model("mafg_ccfg", 8, **TINY), _Faces(3), None, {**recipe, "epochs": 1})
    assert res.history[-1]["step"] == 1
