"""OpenGraphAU in afg: whole checkpoints in the authors' layout (built from our modules), 41 named
columns through afg.Predictor, their evaluation transform, videos with time_s, FACS names, the AU
figures (PDF + PNG) and ``afg predict --plot``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from afg import Predictor
from afg.compat import model_from_official_checkpoint
from afg.compat.opengraphau import (
    OPENGRAPHAU_COLUMNS,
    OPENGRAPHAU_DESCRIPTIONS,
    model_options,
    ours_to_official,
)
from afg.data.au_names import au_column, au_label, au_name, parse_au
from afg.data.transforms import to_tensor
from afg.models import create_model

skdata = pytest.importorskip("skimage.data")


def _their_layout(model: torch.nn.Module) -> dict:
    """Our model's weights as the authors save them: ``module.``-prefixed, under ``state_dict``."""
    return {"state_dict": {"module." + k: v for k, v in ours_to_official(model.state_dict()).items()}}


@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    """A randomly initialised OpenGraphAU stage-1 ResNet-18 saved in the authors' layout."""
    torch.manual_seed(0)
    model = create_model("me_graphau_stage1", 27, backbone="resnet18", img_size=224, **model_options(1))
    path = tmp_path_factory.mktemp("ogau") / "OpenGraphAU-ResNet18_first_stage.pth"
    torch.save(_their_layout(model), path)
    return path, model.eval()


def test_columns_and_facs_names():
    assert len(OPENGRAPHAU_COLUMNS) == 41
    assert OPENGRAPHAU_COLUMNS[:3] == ["AU01", "AU02", "AU04"] and OPENGRAPHAU_COLUMNS[26] == "AU39"
    assert OPENGRAPHAU_COLUMNS[27:31] == ["AUL1", "AUR1", "AUL2", "AUR2"]
    assert OPENGRAPHAU_COLUMNS[-2:] == ["AUL14", "AUR14"]
    assert au_column(4) == "AU04" and au_column(10, "r") == "AUR10"
    assert parse_au("AU1") == parse_au("AU01") == ("", 1) and parse_au("aul14") == ("L", 14)
    assert au_name("AU12") == "Lip corner puller" and au_name("AUR1") == "Right inner brow raiser"
    assert au_label("AU43") == "AU43 Eyes closed" and au_label("valence") == "valence"
    assert au_label("AU99") == "AU99"
    with pytest.raises(ValueError, match="not an AU column"):
        parse_au("happy")
    # the authors' pair named 12 is scored from the AU11 node (their table: nasolabial deepener)
    assert OPENGRAPHAU_DESCRIPTIONS["AUL12"] == "Left nasolabial deepener"
    assert OPENGRAPHAU_DESCRIPTIONS["AUR14"] == "Right dimpler"


@pytest.mark.parametrize("stage", [1, 2])
def test_checkpoint_layouts_load_into_our_model(tmp_path, stage):
    torch.manual_seed(stage)
    name = "me_graphau" if stage == 2 else "me_graphau_stage1"
    ours = create_model(name, 27, backbone="resnet18", img_size=64, **model_options(stage)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = ours(x)
    assert set(ref) == {"au"} and ref["au"].shape == (2, 41)
    wrapped = _their_layout(ours)
    assert any(k.startswith("module.head.main_class_linears.26.") for k in wrapped["state_dict"])
    assert ("module.head.edge_extractor.bn.weight" in wrapped["state_dict"]) == (stage == 2)
    torch.save(wrapped, tmp_path / "w.pth")
    torch.save(ours_to_official(ours.state_dict()), tmp_path / "bare.pth")
    for src in (tmp_path / "w.pth", tmp_path / "bare.pth"):
        model = model_from_official_checkpoint(src, img_size=64)
        assert model.model_config["name"] == name and model.label_names == OPENGRAPHAU_COLUMNS
        assert not model.training
        with torch.no_grad():
            torch.testing.assert_close(model(x)["au"], ref["au"])


@pytest.mark.parametrize("backbone", ["resnet50", "swin_tiny_patch4_window7_224"])
def test_backbone_is_inferred_from_their_keys(backbone):
    """ResNet depth from the block counts; Swin from Microsoft's layout (patch merging at the end
    of each stage, which timm's converter moves to the start of the next) — as for ME-GraphAU."""
    import re

    torch.manual_seed(0)
    ours = create_model("me_graphau_stage1", 27, backbone=backbone, img_size=224, **model_options(1))
    sd = ours.state_dict()
    official = {}
    for k, v in ours_to_official(sd).items():
        if k.endswith(("relative_position_index", "attn_mask")):
            continue
        if backbone.startswith("swin"):
            k = re.sub(r"layers\.(\d+)\.downsample", lambda g: f"layers.{int(g.group(1)) - 1}.downsample", k)
        official["module." + k] = v
    m = model_from_official_checkpoint({"state_dict": official})
    assert m.model_config["backbone"] == backbone and m.model_config["name"] == "me_graphau_stage1"
    assert m.global_linear.fc.out_features == (768 // 2 if backbone.startswith("swin") else 2048 // 4)
    sd2 = m.state_dict()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)


def test_loader_refuses_pickles_and_unknown_layouts(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled",))

    torch.save({"state_dict": {"head.main_sc": torch.zeros(27, 8)}, "x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="refuses pickled objects"):
        model_from_official_checkpoint(tmp_path / "evil.pth")
    torch.save({"conv.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="neither an ME-GraphAU"):
        model_from_official_checkpoint(tmp_path / "other.pth")
    torch.save({"head.main_sc": torch.zeros(27, 8), "head.sub_sc": torch.zeros(14, 8),
                "backbone.cls_token": torch.zeros(1, 1, 768)}, tmp_path / "vit.pth")
    with pytest.raises(ValueError, match="ViT"):
        model_from_official_checkpoint(tmp_path / "vit.pth")


def test_predictor_gives_41_named_columns_with_their_transform(stage1):
    path, model = stage1
    p = Predictor(path, device="cpu")
    assert p.info["kind"] == "official" and p.label_names == OPENGRAPHAU_COLUMNS
    assert (p.resize, p.img_size) == (256, 224)
    # an aligned 256 px face: the model sees its centre 224 px, ImageNet-normalised
    face = (np.random.default_rng(0).random((256, 256, 3)) * 255).astype(np.uint8)
    df = p.predict(face, detect=False)
    assert list(df.columns[8:49]) == OPENGRAPHAU_COLUMNS and list(df.columns[-2:]) == ["status", "reason"]
    with torch.no_grad():
        ref = model(to_tensor(face[16:240, 16:240].copy())[None])["au"][0].numpy()
    np.testing.assert_allclose(df[OPENGRAPHAU_COLUMNS].to_numpy(float)[0], ref, atol=1e-5)
    assert df.attrs["label_descriptions"]["AUL12"] == "Left nasolabial deepener"
    # the loaded module given directly keeps names and transform
    direct = Predictor(model_from_official_checkpoint(path), device="cpu")
    assert direct.label_names == OPENGRAPHAU_COLUMNS and (direct.resize, direct.img_size) == (256, 224)
    np.testing.assert_allclose(direct.predict(face, detect=False)[OPENGRAPHAU_COLUMNS].to_numpy(float)[0],
                               ref, atol=1e-5)


def _write_video(path, frames: int, fps: float):
    cv2 = pytest.importorskip("cv2")
    small = np.asarray(Image.fromarray(skdata.astronaut()).resize((256, 256)))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (256, 256))
    if not w.isOpened():
        pytest.skip("OpenCV has no MJPG writer here")
    for i in range(frames):  # the face drifts right by 2 px per frame
        w.write(np.roll(small, 2 * i, axis=1)[..., ::-1].copy())
    w.release()


def test_video_gives_one_row_per_sampled_frame_with_increasing_time(stage1, tmp_path):
    _write_video(tmp_path / "session.avi", frames=12, fps=10.0)
    df = Predictor(stage1[0], device="cpu", fps=4, batch_size=4).predict(str(tmp_path / "session.avi"))
    assert list(df.columns[:4]) == ["input", "frame", "time_s", "face"]
    # native 10 fps sampled at 4 fps: every round(10 / 4) = 2nd frame
    assert list(df["frame"]) == [0, 2, 4, 6, 8, 10] and (df["status"] == "ok").all()
    np.testing.assert_allclose(df["time_s"], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert np.all(np.diff(df["time_s"]) > 0)
    assert df[OPENGRAPHAU_COLUMNS].notna().all().all()


def _table() -> pd.DataFrame:
    """A hand-made prediction table: one face, 3 frames of a video, known probabilities."""
    rows = []
    for t, (a, b, c) in enumerate([(0.1, 0.7, 0.2), (0.9, 0.6, 0.3), (0.2, 0.5, 0.4)]):
        rows.append({"input": "clip.mp4", "frame": 5 * t, "time_s": 0.5 * t, "face": 0,
                     "FaceRectX": 180.0, "FaceRectY": 60.0, "FaceRectWidth": 90.0,
                     "FaceRectHeight": 110.0, "FaceScore": 0.99, "AU01": a, "AU12": b, "AUL1": c,
                     "status": "ok", "reason": ""})
    return pd.DataFrame(rows)


def test_overlay_and_timeline_are_written_as_pdf_and_png(tmp_path):
    import matplotlib.pyplot as plt

    from afg.viz import plot_au_overlay, plot_au_timeline, save_figure

    df = _table()
    fig = plot_au_overlay(skdata.astronaut(), df.iloc[1], threshold=0.5)
    assert fig.aus == ["AU01", "AU12", "AUL1"]
    bars = fig.axes[1].patches
    assert [round(b.get_width(), 6) for b in bars] == [0.9, 0.6, 0.3]
    highlighted = [b.get_facecolor() == bars[0].get_facecolor() for b in bars]
    assert highlighted == [True, True, False]  # 0.9 and 0.6 are >= 0.5
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert labels == ["AU01 Inner brow raiser", "AU12 Lip corner puller", "AUL1 Left inner brow raiser"]
    paths = save_figure(fig, "overlay", dpi=80, folder=tmp_path)
    timeline = plot_au_timeline(df, top=2)
    assert timeline.aus == ["AU01", "AU12"]  # the two highest peaks (0.9, 0.7)
    line = timeline.axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [0.0, 0.5, 1.0])  # time_s on the x axis
    paths += save_figure(timeline, "timeline", dpi=80, folder=tmp_path)
    plt.close("all")
    assert sorted(p.name for p in paths) == ["overlay.pdf", "overlay.png", "timeline.pdf", "timeline.png"]
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"%PDF") if p.suffix == ".pdf" else head == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no predicted face"):
        plot_au_timeline(df.assign(status="no_face"))


def test_cli_predict_plot_writes_overlays_and_timelines(stage1, tmp_path, capsys):
    from afg.cli import main

    photo = tmp_path / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(photo)
    _write_video(tmp_path / "clip.avi", frames=2, fps=2.0)
    out = tmp_path / "pred.csv"
    rc = main(["predict", str(stage1[0]), str(photo), str(tmp_path / "clip.avi"), "-o", str(out),
               "--plot", str(tmp_path / "figs"), "--fps", "2", "--no-progress", "-q"])
    assert rc == 0
    df = pd.read_csv(out)
    assert list(df.columns[9:50]) == OPENGRAPHAU_COLUMNS  # after input, frame, time_s, face, Face*
    assert len(df) == 1 + 2 and (df["status"] == "ok").all()
    written = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert written == ["astronaut_au_overlay.pdf", "astronaut_au_overlay.png",
                       "clip_au_timeline.pdf", "clip_au_timeline.png"]
    assert "figures: 4 files written" in capsys.readouterr().out
