"""afg.Predictor: checkpoints (afg + authors' ME-GraphAU, weights_only), MTCNN on real photographs,
faces-not-found rows, several faces per image, folders, arrays, videos, skipping detection."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from afg import Predictor
from afg.data.transforms import to_tensor
from afg.models import create_model
from afg.predict import FACE_COLUMNS, CheckpointError, load_model_checkpoint, resolve_checkpoint
from afg.train import save_checkpoint

skdata = pytest.importorskip("skimage.data")

DISFA = ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]


@pytest.fixture(scope="module")
def au_checkpoint(tmp_path_factory):
    """A (randomly initialised) ME-GraphAU stage-1 checkpoint in afg's format, 8 DISFA AUs."""
    torch.manual_seed(0)
    model = create_model("me_graphau_stage1", 8, backbone="resnet18", img_size=64, neighbor_num=3)
    path = tmp_path_factory.mktemp("ck") / "stage1" / "best.pt"
    save_checkpoint(path, {"model": model.state_dict(), "model_config": model.model_config, "task": "au",
                           "label_names": DISFA})
    return path, model.eval()


@pytest.fixture(scope="module")
def predictor(au_checkpoint):
    return Predictor(au_checkpoint[0], device="cpu")


@pytest.fixture(scope="module")
def astronaut():
    return skdata.astronaut()


def _two_faces(img: np.ndarray) -> np.ndarray:
    crop = img[0:256, 100:356]
    return np.concatenate([crop, crop[:, ::-1]], axis=1)  # the face and its mirror image


def test_columns_and_one_face_on_the_astronaut(predictor, astronaut):
    df = predictor.predict(astronaut)
    assert list(df.columns[:3]) == ["input", "frame", "face"]
    assert list(df.columns[3:8]) == FACE_COLUMNS
    assert list(df.columns[8:16]) == DISFA and list(df.columns[-2:]) == ["status", "reason"]
    assert len(df) == 1 and df.loc[0, "status"] == "ok"
    row = df.iloc[0]
    # the face is at about x 180-270, y 60-175 in the 512 x 512 photograph
    assert 150 < row.FaceRectX < 210 and 40 < row.FaceRectY < 100
    assert 60 < row.FaceRectWidth < 130 and 80 < row.FaceRectHeight < 150
    assert row.FaceScore > 0.95
    probs = row[DISFA].to_numpy(float)
    assert np.all((probs > 0) & (probs < 1))


def test_faceless_image_gives_a_status_row(predictor):
    df = predictor.predict([skdata.chelsea(), np.full((120, 160, 3), 128, np.uint8)])
    assert list(df["status"]) == ["no_face", "no_face"]
    assert df[DISFA + FACE_COLUMNS].isna().all().all()
    assert df["face"].isna().all()


def test_two_faces_give_two_rows_left_to_right(predictor, astronaut):
    df = predictor.predict(_two_faces(astronaut))
    assert len(df) == 2 and (df["status"] == "ok").all()
    assert list(df["face"]) == [0, 1]
    assert df.loc[0, "FaceRectX"] < 256 < df.loc[1, "FaceRectX"]
    assert (df["input"] == df.loc[0, "input"]).all()


def test_each_face_row_holds_the_model_on_its_own_crop(predictor, au_checkpoint, astronaut):
    """Two faces in one image (the face and its mirror image): row k is the model on face k's
    aligned crop, not on the other face's and not on the whole image."""
    from afg.data.faces import FaceAligner

    _, model = au_checkpoint
    image = _two_faces(astronaut)
    fa = FaceAligner(size=64)
    boxes, _s, points = fa.detect([image])[0]
    order = np.argsort([b[0] for b in boxes])  # left to right, as the table
    crops = [fa.align_points(image, points[i])["image"] for i in order]
    with torch.no_grad():
        ref = model(torch.stack([to_tensor(np.array(c)) for c in crops]))["au"].numpy()
    assert np.abs(ref[0] - ref[1]).max() > 1e-3  # the two crops really give different outputs
    got = predictor.predict(image)[DISFA].to_numpy(float)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_face_threshold_keeps_only_confident_faces(au_checkpoint, astronaut):
    score = Predictor(au_checkpoint[0], device="cpu").predict(astronaut).loc[0, "FaceScore"]
    below = Predictor(au_checkpoint[0], device="cpu", face_threshold=score - 1e-4).predict(astronaut)
    above = Predictor(au_checkpoint[0], device="cpu", face_threshold=(score + 1.0) / 2).predict(astronaut)
    assert list(below["status"]) == ["ok"]
    assert list(above["status"]) == ["no_face"] and above[DISFA].isna().all().all()


def test_multilabel_model_gives_one_sigmoid_per_emotion(tmp_path):
    torch.manual_seed(0)
    names = ["happy", "sad", "fear", "anger"]
    m = create_model("baseline", 4, backbone="resnet18", img_size=64, task="multilabel").eval()
    m.label_names = names
    save_checkpoint(tmp_path / "m.pt", {"model": m.state_dict(), "model_config": m.model_config,
                                         "task": "multilabel", "label_names": names})
    faces = (np.random.default_rng(0).random((2, 64, 64, 3)) * 255).astype(np.uint8)
    df = Predictor(tmp_path / "m.pt", device="cpu").predict(list(faces), detect=False)
    assert list(df.columns[8:12]) == names and list(df.columns[12:]) == ["status", "reason"]
    with torch.no_grad():
        ref = torch.sigmoid(m(torch.stack([to_tensor(f) for f in faces]))["emotions"]).numpy()
    np.testing.assert_allclose(df[names].to_numpy(float), ref, atol=1e-5)
    assert not np.allclose(df[names].to_numpy(float).sum(1), 1.0)  # independent, not a softmax


def test_a_failing_batch_becomes_error_rows(predictor, astronaut, monkeypatch):
    """An exception inside the model gives ``status="error"`` rows naming it (NaN predictions);
    an unreadable input in the same batch keeps its own status; nothing is raised."""
    def broken(crops):
        raise RuntimeError("CUDA out of memory\nsecond line")

    monkeypatch.setattr(predictor, "predict_crops", broken)
    df = predictor.predict([astronaut, np.zeros((1,), np.uint8)])
    assert list(df["status"]) == ["error", "unreadable"]
    assert df.loc[0, "reason"] == "RuntimeError: CUDA out of memory"
    assert df[DISFA + FACE_COLUMNS].isna().all().all()


def test_predictions_equal_the_model_on_the_aligned_crop(predictor, au_checkpoint, astronaut):
    from afg.data.faces import FaceAligner

    _, model = au_checkpoint
    fa = FaceAligner(size=64)
    _b, _p, q = fa.detect([astronaut])[0]
    crop = fa.align_points(astronaut, q[0])["image"]
    with torch.no_grad():
        ref = model(to_tensor(np.array(crop))[None])["au"][0].numpy()
    got = predictor.predict(astronaut)[DISFA].to_numpy(float)[0]
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_skip_detection_on_aligned_faces(predictor, au_checkpoint):
    from afg.data.synth import SynthFaces

    _, model = au_checkpoint
    ds = SynthFaces("disfa", n_subjects=1, images_per_subject=3, size=64)
    faces = [ds.render(i) for i in range(3)]
    df = predictor.predict(faces, detect=False)
    assert len(df) == 3 and (df["status"] == "ok").all()
    assert df["FaceScore"].isna().all() and (df["FaceRectWidth"] == 64).all()
    with torch.no_grad():
        ref = model(torch.stack([to_tensor(f) for f in faces]))["au"].numpy()
    np.testing.assert_allclose(df[DISFA].to_numpy(float), ref, atol=1e-5)


def test_mixed_inputs_paths_folders_pil_frames_and_bad_files(predictor, astronaut, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "a.png")
    Image.fromarray(skdata.chelsea()).save(folder / "b.jpg")
    (folder / "broken.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    frames = np.stack([_two_faces(astronaut)[:, :256]] * 2)  # (T, H, W, 3): frames of a clip
    df = predictor.predict([str(folder), Image.fromarray(astronaut), frames, str(tmp_path / "missing.png")])
    got = [(s.rsplit("/", 1)[-1], f, st) for s, f, st in zip(df["input"], df["frame"], df["status"])]
    assert got == [("a.png", 0, "ok"), ("b.jpg", 0, "no_face"), ("broken.png", 0, "unreadable"),
                   ("<Image 1>", 0, "ok"), ("<ndarray 2>", 0, "ok"), ("<ndarray 2>", 1, "ok"),
                   ("missing.png", 0, "unreadable")]
    assert "not a recognised image" in df.loc[2, "reason"]


def test_video_frames_sampled_at_fps(au_checkpoint, astronaut, tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    small = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (256, 256))
    if not w.isOpened():
        pytest.skip("OpenCV has no MJPG writer here")
    for i in range(10):  # 1 s at 10 fps; the face drifts right by 2 px per frame
        w.write(np.roll(small, 2 * i, axis=1)[..., ::-1].copy())
    w.release()
    df = Predictor(au_checkpoint[0], device="cpu", fps=5).predict(str(path))
    assert list(df["frame"]) == [0, 2, 4, 6, 8]
    assert (df["status"] == "ok").all()
    assert np.all(np.diff(df["FaceRectX"].to_numpy()) > 0)


def test_official_me_graphau_checkpoint(au_checkpoint, tmp_path, astronaut):
    from afg.compat.me_graphau import ours_to_official

    torch.manual_seed(1)
    ours = create_model("me_graphau_stage1", 8, backbone="resnet18", img_size=224, neighbor_num=4).eval()
    official = {"module." + k: v for k, v in ours_to_official(ours.state_dict()).items()}
    path = tmp_path / "MEFARG_resnet18_DISFA_fold1.pth"
    torch.save({"state_dict": official}, path)
    p = Predictor(path, device="cpu")
    assert p.info["kind"] == "official" and p.label_names == DISFA and p.img_size == 224
    faces = [np.array(Image.fromarray(astronaut).resize((224, 224)))]
    with torch.no_grad():
        ref = ours(to_tensor(faces[0])[None])["au"].numpy()
    np.testing.assert_allclose(p.predict(faces, detect=False)[DISFA].to_numpy(float), ref, atol=1e-5)


class _Evil:
    marker = ""

    def __reduce__(self):
        import os

        return (os.makedirs, (self.marker,))


def test_checkpoints_are_never_unpickled(tmp_path):
    marker = tmp_path / "afg-evil-marker-should-not-exist"
    evil = _Evil()
    evil.marker = str(marker)
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "model_config": {"name": "baseline"}, "x": evil}, path)
    with pytest.raises(CheckpointError, match=r"weights-only|refuses pickled objects|not a loadable"):
        Predictor(path)
    torch.load(path, weights_only=False)  # the oracle: unpickling it does create the folder
    assert marker.is_dir()
    marker.rmdir()
    with pytest.raises(CheckpointError):
        load_model_checkpoint(path)
    assert not marker.exists()


def test_bad_checkpoints_raise_one_clear_error(tmp_path):
    (tmp_path / "text.pt").write_text("hello")
    torch.save({"conv.weight": torch.zeros(2)}, tmp_path / "other.pt")
    torch.save({"model": {"fc.weight": torch.zeros(3, 3)}, "model_config": {
        "name": "baseline", "num_classes": 8, "backbone": "resnet18", "img_size": 64}}, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_model_checkpoint(tmp_path / "text.pt")
    with pytest.raises(CheckpointError, match="neither an afg checkpoint"):
        load_model_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="cannot rebuild model 'baseline'"):
        load_model_checkpoint(tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_model_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match=r"no best\.pt"):
        resolve_checkpoint(tmp_path)


def test_run_folder_resolves_to_last_stage(au_checkpoint, tmp_path):
    import shutil

    path, _ = au_checkpoint
    run = tmp_path / "me_graphau_stage1-abc"
    (run / "stage1-stage1").mkdir(parents=True)
    (run / "stage2-stage2").mkdir()
    shutil.copy(path, run / "stage1-stage1" / "best.pt")
    shutil.copy(path, run / "stage2-stage2" / "last.pt")
    assert resolve_checkpoint(run) == run / "stage2-stage2" / "last.pt"
    shutil.copy(path, run / "stage2-stage2" / "best.pt")
    assert resolve_checkpoint(run) == run / "stage2-stage2" / "best.pt"
    single = tmp_path / "baseline-def"
    single.mkdir()
    shutil.copy(path, single / "best.pt")
    assert resolve_checkpoint(single) == single / "best.pt"
    assert Predictor(run, device="cpu").label_names == DISFA


def test_expression_model_columns(tmp_path):
    torch.manual_seed(0)
    m = create_model("baseline", 3, backbone="resnet18", img_size=64, task="expression", va=True)
    m.label_names = ["Neutral", "Happy", "Sad"]
    save_checkpoint(tmp_path / "e.pt", {"model": m.state_dict(), "model_config": m.model_config,
                                         "task": "expression", "label_names": m.label_names})
    df = Predictor(tmp_path / "e.pt", device="cpu").predict(np.zeros((64, 64, 3), np.uint8), detect=False)
    assert list(df.columns[8:14]) == ["Neutral", "Happy", "Sad", "expression", "valence", "arousal"]
    probs = df[["Neutral", "Happy", "Sad"]].to_numpy(float)[0]
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert df.loc[0, "expression"] == ["Neutral", "Happy", "Sad"][int(probs.argmax())]
    assert -1 <= df.loc[0, "valence"] <= 1
    assert isinstance(df, pd.DataFrame)


def test_recipes_trained_on_crops_are_fed_the_centre_crop(au_checkpoint, tmp_path):
    """A run with `data.resize: 80` (random 64 px crops of 80 px faces): the predictor aligns at 80
    px and feeds the centre 64 px, as the validation split did in training."""
    import shutil

    path, model = au_checkpoint
    run = tmp_path / "me_graphau_stage1-xyz"
    (run / "stage1-stage1").mkdir(parents=True)
    shutil.copy(path, run / "stage1-stage1" / "best.pt")
    (run / "config.yaml").write_text("model: {name: me_graphau_stage1}\ndata: {resize: 80, img_size: 64}\n")
    p = Predictor(run, device="cpu")
    assert (p.resize, p.img_size) == (80, 64)
    face = (np.random.default_rng(0).random((80, 80, 3)) * 255).astype(np.uint8)
    got = p.predict(face, detect=False)[DISFA].to_numpy(float)[0]
    with torch.no_grad():
        ref = model(to_tensor(face[8:72, 8:72].copy())[None])["au"][0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5)
    # without a recipe (or with resize given as None and no config) the whole face is resized
    plain = Predictor(path, device="cpu")
    assert plain.resize is None
    with pytest.raises(ValueError, match="exceed"):
        Predictor(path, device="cpu", resize=48)
