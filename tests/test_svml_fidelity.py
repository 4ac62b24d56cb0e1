"""SVML-RGCN on real-data formats (issue #24): the class means f_c of Eq. 5 come from the RAF-DB
basic set that ``data.basic`` names, never from RAF-Compound's two-label images; a class without a
single-label image is an error; the f_c cache is keyed per dataset/fold/split/weights (JAFFE's 5
folds never share one); MFB is Eq. 6's sum pooling unless asked; Eq. 2 sums over the classes."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_datasets_faces import StubAligner

from afg.data.build import build_data
from afg.data.datasets import JAFFE, RAFDB, RAFCompound
from afg.data.prepare import prepare_dataset
from afg.experiments import load_experiment, run
from afg.experiments.config import build_model
from afg.models import create_model
from afg.models.svml_rgcn import find_basic_data
from afg.utils import seed_everything

TOL = {"atol": 2e-3, "rtol": 2e-3}  # prepare() runs φ on the GPU when there is one (TF32 convs)
TINY = {"backbone": "resnet_tiny", "img_size": 32, "mfb_o": 16, "mfb_k": 2, "hidden_dim": 16}
RAF = ("Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral")


def _face(path: Path, seed: int, gray: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (40, 40) if gray else (40, 40, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def _raf(root: Path, labels: list[tuple[str, int]]) -> Path:
    """A RAF-DB release folder (basic/ or compound/): EmoLabel/list_patition_label.txt, aligned faces."""
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("".join(f"{n} {c}\n" for n, c in labels))
    for i, (n, _) in enumerate(labels):
        _face(root / "Image" / "aligned" / f"{Path(n).stem}_aligned.jpg", seed=hash(str(root)) % 1000 + i)
    return root


def _prepared(adapter) -> str:
    out = adapter.root / "prepared"
    prepare_dataset(adapter, out, size=40, aligner=StubAligner(size=40), progress=False)
    return str(out)


@pytest.fixture(scope="module")
def raf(tmp_path_factory):
    """RAF-DB basic (2 train images per class, Neutral too, plus test images) and RAF-Compound
    (every image two emotions) in the release formats, prepared by a stub aligner."""
    tmp = tmp_path_factory.mktemp("raf")
    basic = [(f"train_{i:05d}.jpg", c) for i, c in enumerate([1, 2, 3, 4, 5, 6, 7] * 2, 1)]
    basic += [("test_0001.jpg", 4), ("test_0002.jpg", 2)]
    compound = [(f"train_{i:04d}.jpg", c) for i, c in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1], 1)]
    compound += [("test_0001.jpg", 3), ("test_0002.jpg", 9)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = RAFDB(_raf(tmp / "RAF-DB" / "basic", basic))
        c = RAFCompound(_raf(tmp / "RAF-DB" / "compound", compound))
        _prepared(b), _prepared(c)
    return tmp / "RAF-DB"


def _config(raf: Path, basic: bool = True, **model) -> dict:
    data = {"dataset": "rafcompound", "root": str(raf / "compound"), "folds": 0, "img_size": 32}
    if basic:
        data["basic"] = {"dataset": "rafdb", "root": str(raf / "basic"), "split": "train"}
    return {"model": {"name": "svml_rgcn", "num_classes": 6, **TINY, **model}, "data": data,
            "recipe": {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 1, "device": "cpu",
                       "progress": False, "optimizer": {"name": "adam", "lr": 1e-3}}}


def _hand_means(model, root: Path, names: list[str]) -> torch.Tensor:
    """f_c by hand: the mean of φ over RAF-DB basic's *training* images of class c (Neutral out)."""
    files = sorted((root / "prepared").rglob("*.jpg"))
    ad = RAFDB(root, check_images=False)
    lab = dict(zip([Path(p).stem for p in ad.records["image"]], ad.records["expression_name"]))
    model.eval()
    means = []
    with torch.no_grad():
        for name in names:
            imgs = []
            for f in files:
                stem = f.stem.removesuffix("_aligned")
                if stem.startswith("train_") and lab.get(f"{stem}_aligned") == name:
                    arr = np.array(Image.open(f).convert("RGB").resize((32, 32), Image.BILINEAR))
                    imgs.append(arr)
            assert len(imgs) == 2, (name, len(imgs))
            from afg.data.transforms import to_tensor

            x = torch.stack([to_tensor(a) for a in imgs])
            means.append(model.backbone(x).mean(1).mean(0))
    return torch.stack(means)


def test_rafcompound_class_means_come_from_raf_basic(raf, tmp_path):
    cfg = load_experiment(_config(raf, feature_cache=str(tmp_path / "fc")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, _ = build_data(cfg.data)
    basic = find_basic_data(train)
    assert basic is not None and len(basic) == 14  # RAF-DB basic's train rows, Neutral included
    model = build_model(cfg.model, train)
    assert model.label_names == list(RAF[:6])
    model.prepare(train)
    assert model.visual_source == "basic"
    f = model.visual_features  # (6, 256)
    hand = _hand_means(model, raf / "basic", model.label_names)
    torch.testing.assert_close(f, hand, **TOL)
    dist = torch.cdist(f, f) + torch.eye(6)
    assert bool((dist > 1e-3).all()), "every class has its own mean"
    assert model.feature_cache_file.is_file() and model.feature_cache_file.name.startswith("rafdb-n14-")


def test_rafcompound_without_basic_raises_naming_the_fix(raf):
    cfg = load_experiment(_config(raf, basic=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, _ = build_data(cfg.data)
    model = build_model(cfg.model, train)
    with pytest.raises(ValueError, match=r"no single-label image of class .*Surprise.*data\.basic"):
        model.prepare(train)


def test_runner_hands_the_basic_set_to_prepare(raf, tmp_path):
    """``afg.experiments.run`` (the path of ``afg train``): build_data attaches RAF-DB basic and
    fit's ``prepare()`` uses it — the trained model's f_c are the hand means of RAF-DB basic."""
    cfg = load_experiment(_config(raf))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run(cfg, root=tmp_path / "runs")
        seed_everything(cfg.recipe.seed)  # the initial φ of the run (prepare() precedes training)
        phi = create_model("svml_rgcn", 6, **TINY)
        hand = _hand_means(phi, raf / "basic", list(RAF[:6]))
    assert res.model.visual_source == "basic"
    torch.testing.assert_close(res.model.visual_features, hand, **TOL)


# ------------------------------------------------------------------------------- JAFFE cache
JAFFE_CODES = ("HA", "SA", "SU", "AN", "DI", "FE")  # adjective order HAP SAD SUR ANG DIS FEA


@pytest.fixture(scope="module")
def jaffe(tmp_path_factory):
    """20 JAFFE-format TIFFs, each rated >= 3 on exactly the adjective of its posed code."""
    root = tmp_path_factory.mktemp("jaffe")
    lines = ["#   HAP  SAD  SUR  ANG  DIS  FEA  PIC"]
    n = 0
    for subj in ("KA", "KL", "KM", "NA"):
        for j, code in enumerate(JAFFE_CODES[: 5 if subj != "NA" else 6]):
            n += 1
            _face(root / "jaffe" / f"{subj}.{code}1.{n}.tiff", seed=n, gray=True)
            vals = [1.5] * 6
            vals[j] = 4.0
            lines.append(f"{n} " + " ".join(f"{v:.2f}" for v in vals) + f" {subj}-{code}1")
    (root / "ratings.txt").write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _prepared(JAFFE(root))
    return root


def test_jaffe_five_folds_never_share_a_cache(jaffe, tmp_path):
    """Before: one feature_cache path for all folds, so folds 2-5 read fold 1's f_c, averaged
    over images in their own test sets. Now each fold writes and reads its own file."""
    base = {"model": {"name": "svml_rgcn", "num_classes": 6, "variant": "vml_rgcn", **TINY,
                      "missing_class": "global_mean", "feature_cache": str(tmp_path / "fc.pt")},
            "data": {"dataset": "jaffe", "root": str(jaffe), "folds": 5, "img_size": 32}}
    files, means, tests = [], [], []
    torch.manual_seed(0)
    phi = create_model("svml_rgcn", 6, **TINY).backbone.state_dict()
    for k in range(1, 6):
        cfg = load_experiment({**base, "data": {**base["data"], "fold": k}})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train, val = build_data(cfg.data)
            model = build_model(cfg.model, train)
            model.backbone.load_state_dict(phi)  # the same φ on every fold
            model.prepare(train)
        files.append(model.feature_cache_file)
        means.append(model.visual_features.clone())
        tests.append(set(val.table["aligned"]))
        # f_c of this fold = mean over this fold's training images only (none of its test images)
        y = train.labels()["emotions"]
        model.eval()
        with torch.no_grad():
            x = torch.stack([train[i]["image"] for i in range(len(train))])
            feats = model.backbone(x).mean(1)
        for c in range(6):
            sel = torch.as_tensor((y[:, c] == 1) & (y.sum(1) == 1))
            if sel.any():
                torch.testing.assert_close(means[-1][c], feats[sel].mean(0), **TOL)
    assert all(f.parent == tmp_path / "fc" for f in files)  # a ".pt" path names the folder
    assert len(set(files)) == 5 and all(f.is_file() for f in files)
    assert all(t1.isdisjoint(t2) for i, t1 in enumerate(tests) for t2 in tests[i + 1:])
    assert not any(torch.allclose(means[0], m) for m in means[1:])
    # the same fold again reads its own file; other weights get another file
    cfg = load_experiment({**base, "data": {**base["data"], "fold": 3}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, _ = build_data(cfg.data)
        again = build_model(cfg.model, train)
        again.backbone.load_state_dict(phi)
        torch.save(torch.full((6, 256), 7.0), files[2])  # prove it is read, not recomputed
        again.prepare(train)
        assert again.feature_cache_file == files[2] and bool((again.visual_features == 7).all())
        other = build_model(cfg.model, train)  # fresh random φ
        other.prepare(train)
    assert other.feature_cache_file not in files and len(list((tmp_path / "fc").iterdir())) == 6


# ------------------------------------------------------------------------------- Eq. 6 and Eq. 2
def test_mfb_is_sum_pooling_by_default_normalised_on_request():
    torch.manual_seed(0)
    m = create_model("svml_rgcn", 6, **TINY, mfb_dropout=0.0).eval()
    f, e = m.visual_features, m.word_embeddings
    z = (f @ m.mfb.proj1.weight.T) * (e @ m.mfb.proj2.weight.T)  # (6, k·o)
    hand = z.unflatten(1, (16, 2)).sum(-1)  # Eq. 6: windows of k = 2
    torch.testing.assert_close(m.node_features(), hand)
    n = create_model("svml_rgcn", 6, **TINY, mfb_dropout=0.0, mfb_normalize=True).eval()
    torch.testing.assert_close(n.node_features().norm(dim=1), torch.ones(6))


def test_eq2_sums_over_classes_mean_option_divides_by_c():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    y = torch.tensor([[1.0, 0.0, float("nan")], [0.0, 1.0, 1.0]])
    p = torch.sigmoid(logits)
    el = -(torch.nan_to_num(y) * p.log() + (1 - torch.nan_to_num(y)) * (1 - p).log())
    el[0, 2] = 0.0  # missing label
    crit = create_model("svml_rgcn", 3, variant="baseline", backbone="resnet_tiny", img_size=32).build_criterion()
    assert crit({"emotions": logits}, {"emotions": y})["loss"].item() == pytest.approx(el.sum().item() / 2)
    mean = create_model("svml_rgcn", 3, variant="baseline", backbone="resnet_tiny", img_size=32,
                        loss_reduction="mean").build_criterion()
    assert mean({"emotions": logits}, {"emotions": y})["loss"].item() == pytest.approx(el.sum().item() / 5)


def test_phi_recipe_trains_on_raf_basic_and_svml_loads_it(raf, tmp_path):
    """configs/resnet50_raf_basic.yaml (the paper's φ, §4.2) runs on a RAF-DB basic release and an
    SVML config's ``model.weights`` takes its checkpoint: φ's backbone tensors, head dropped."""
    root = Path(__file__).resolve().parents[1] / "configs"
    cfg = load_experiment(root / "resnet50_raf_basic.yaml").override({
        "model.backbone": "resnet_tiny", "model.pretrained": False, "model.img_size": 32,
        "data.root": str(raf / "basic"), "data.img_size": 32, "recipe.epochs": 1,
        "recipe.batch_size": 4, "recipe.max_steps_per_epoch": 1, "recipe.device": "cpu",
        "recipe.progress": False, "recipe.num_workers": 0})
    assert (cfg.model["name"], cfg.model["task"], cfg.data.dataset) == ("baseline", "expression", "rafdb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run(cfg, root=tmp_path / "runs")
    best = res.run_dir / "best.pt"
    svml = create_model("svml_rgcn", 6, **TINY, weights=str(best))
    phi = res.model.backbone.state_dict()
    assert all(torch.equal(v, phi[k]) for k, v in svml.backbone.state_dict().items())


def test_cache_key_sees_one_changed_weight_and_one_changed_label():
    from torch.utils.data import Subset

    from afg.models.svml_rgcn import feature_cache_key

    class Tiny(torch.utils.data.Dataset):
        def __init__(self, y):
            self.y = np.asarray(y, dtype=float)

        def __len__(self):
            return len(self.y)

        def labels(self):
            return {"emotions": self.y}

    phi = create_model("svml_rgcn", 6, **TINY).backbone
    y = np.eye(6)[[0, 1, 2, 3, 4, 5, 0, 1]]
    key = feature_cache_key(phi, Tiny(y), "emotions", list(RAF[:6]), None)
    with torch.no_grad():
        phi.model.layer3[0].conv1.weight[7, 5, 1, 1] += 1e-4  # one entry deep inside a big tensor
    assert feature_cache_key(phi, Tiny(y), "emotions", list(RAF[:6]), None) != key
    y2 = y.copy()
    y2[3] = np.eye(6)[5]
    other = feature_cache_key(phi, Tiny(y), "emotions", list(RAF[:6]), None)
    assert feature_cache_key(phi, Tiny(y2), "emotions", list(RAF[:6]), None) != other
    assert feature_cache_key(phi, Subset(Tiny(y), [0, 1, 2]), "emotions", list(RAF[:6]), None) != \
        feature_cache_key(phi, Subset(Tiny(y), [0, 1, 3]), "emotions", list(RAF[:6]), None)


def test_synthetic_basic_set_gives_every_class_its_own_mean_from_other_identities():
    """``data.basic: {dataset: synthetic}`` (the synthetic config's stand-in for RAF-DB basic):
    balanced basic expressions of identities no fold holds; f_c is the mean φ of each class."""
    from afg.data.build import item_subjects

    cfg = load_experiment("configs/svml_rgcn_synthetic.yaml").override(
        {"data.basic": {"dataset": "synthetic", "n_subjects": 2, "images_per_subject": 14}})
    train, _ = build_data(cfg.data)
    basic = find_basic_data(train)
    labels = basic.labels()["expression"]
    assert np.bincount(labels, minlength=7).tolist() == [4] * 7
    assert not set(item_subjects(basic)) & set(item_subjects(train))
    model = build_model(cfg.model, train)
    model.prepare(train)
    assert model.visual_source == "basic"
    f = model.visual_features  # (C=6, D): one mean per emotion, Neutral dropped
    names = list(basic.expression_names)
    model.eval()
    with torch.no_grad():
        hand = torch.stack([
            model.backbone(torch.stack([basic[i]["image"] for i in np.flatnonzero(labels == names.index(c))]))
            .mean(1).mean(0) for c in model.label_names])
    torch.testing.assert_close(f, hand, **TOL)
    dist = torch.cdist(f, f) + torch.eye(6)
    assert bool((dist > 1e-4).all()), "every class has its own mean"
    with pytest.raises(Exception, match="unknown keys"):
        build_data(cfg.override({"data.basic": {"dataset": "synthetic", "root": "x"}}).data)
