"""Does the synthetic benchmark contain what the papers exploit? Learnability, relation headroom
and ambiguity of the procedural faces, per profile and per AU.

Run: ``python benchmarks/synth_headroom.py [--profiles disfa bp4d emotionet] [--train-subjects 48]
[--realism none real]``.

Every graph paper of afg claims that modelling the relations between labels adds information
the image alone does not give. This script measures whether the synthetic faces leave room for
that, with linear probes on frozen features of held-out identities:

* **Learnability** — per AU, a logistic-regression probe on the pooled features ``f(x)`` of the
  synthetic-pretrained ``resnet_tiny`` (:mod:`afg.pretrain`; it never saw an AU label), trained
  on ``--train-subjects`` identities and scored on ``--test-subjects`` disjoint ones. Chance is
  the every-AU-present F1 ``2p / (1 + p)``.
* **Relation headroom** — the same probe given, beside ``f(x)``, the *true* labels of the other
  AUs ``y_{-j}``: ``P(y_j | f(x), y_{-j})`` against ``P(y_j | f(x))``. Its gain (F1, AUC) is an
  upper bound of what any relation model (graph, GNN, co-occurrence prior) can add on this data
  with these features: a model only ever sees its own *estimates* of ``y_{-j}``.
* **Ambiguity** — the probe's AUC of each intensity level (positives at rounded FACS intensity
  2, 3, 4, 5 — active AUs are drawn in [1.5, 5] — against all negatives) and of visible against occluded faces: on real data low-intensity and
  occluded AUs are where the evidence is weak and relations help.

``--realism`` runs each profile once per realism preset of :mod:`afg.data.synth.realism`
(``none``: the version-1 faces; ``real``: convex amplitude curve, unlabelled resting faces, head
yaw/pitch), on the same labels, identities, nuisances and occluders (same seeds), so the rows
differ by the realism model only. The backbone's pretraining saw version-1 faces only.

Probes are class-balanced logistic regressions (scikit-learn, ``C`` = 1 on standardised
features). A benchmark, not a test: a few CPU minutes (the pretraining of ``resnet_tiny`` runs
once, ~3 min, and is cached in ``$AFG_CACHE_DIR``).

``--weights`` chooses the frozen backbone; its default is the notebooks' (``synthetic-long`` since
3 Dec 2026). The tables below were measured on the first default, ``--weights synthetic``;
docs/synthetic.md has both.

Measured with ``--realism none real`` (defaults otherwise: 48 training / 16 held-out identities x
30 faces, 112 px, 30 % occluders, ``resnet_tiny`` landmark-pretrained; 2 shared cores, 19 min
incl. the cached pretraining; one seed), mean over AUs (chance = all-positive F1; ΔF1, ΔAUC =
relation headroom; AUC i2–i5 = positives of rounded intensity 2–5 against all negatives; vis/occ
= AUC on visible / occluded faces):

=========  =======  ======  =====  ======  =====  ======  ======  =====  =====  =====  =====  =====
profile    realism  chance  F1     ΔF1     AUC    ΔAUC    AUC i2  i3     i4     i5     vis    occ
=========  =======  ======  =====  ======  =====  ======  ======  =====  =====  =====  =====  =====
disfa      none     0.189   0.239  +0.224  0.673  +0.164  0.642   0.691  0.691  0.690  0.693  0.541
disfa      real     0.189   0.184  +0.256  0.563  +0.237  0.541   0.587  0.571  0.626  0.568  0.530
bp4d       none     0.473   0.432  +0.120  0.590  +0.146  0.567   0.589  0.596  0.637  0.600  0.496
bp4d       real     0.473   0.390  +0.138  0.547  +0.171  0.529   0.539  0.557  0.592  0.556  0.454
emotionet  none     0.182   0.201  +0.150  0.600  +0.197  0.650   0.571  0.646  0.664  0.608  0.536
emotionet  real     0.182   0.173  +0.173  0.521  +0.253  0.550   0.533  0.557  0.703  0.530  0.457
=========  =======  ======  =====  ======  =====  ======  ======  =====  =====  =====  =====  =====

Reading: a *linear* probe on pooled landmark features barely clears chance (the fine-tuned
``resnet_tiny`` of ``synth_learnability.py`` reaches F1 0.405 / AUC 0.839 on DISFA), and the
true labels of the other AUs add 0.12–0.22 F1: the label model's co-occurrences carry real
information, so relation models have room on these faces. Without realism the evidence barely
grows with intensity (DISFA AUC 0.64 at intensity 2 against 0.69 at 5), unlike real faces.
With ``realism real`` (convex amplitude, unlabelled resting faces, yaw/pitch) the image evidence
drops in every profile (probe AUC -0.04 to -0.11, probe F1 below chance), visible faces come
down towards occluded ones, low intensities become the weak ones in DISFA and EmotioNet (the
AUC gap from intensity 2 to 5 grows from 0.05 to 0.09 and from 0.01 to 0.15; BP4D stays at
0.07) and the relation headroom grows in every profile (ΔF1 +0.02 to +0.03, ΔAUC +0.025 to
+0.07): the other AUs' labels make up more of what the image no longer shows. One seed, 480
held-out faces, no confidence intervals: differences of a few hundredths (BP4D's ΔF1 +0.018 and
ΔAUC +0.025) may be noise, and the per-AU intensity and occlusion cells with few positives are
noisier still.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from afg.backbones import create_backbone
from afg.data.synth import SynthFaces
from afg.pretrain import DEFAULT_PRETRAINING, resolve_weights


def features(bb: torch.nn.Module, ds: SynthFaces, desc: str, batch: int = 64) -> np.ndarray:
    """Pooled backbone tokens ``(n, C)`` of every face of ``ds`` (rendered in batches)."""
    out = []
    bb.eval()
    with torch.no_grad():
        for s in tqdm(range(0, len(ds), batch), desc=desc, leave=False):
            x = torch.stack([ds[i]["image"] for i in range(s, min(len(ds), s + batch))])
            out.append(bb(x).mean(1).numpy())
    return np.concatenate(out)


def probe(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray) -> np.ndarray:
    """Scores of a class-balanced logistic regression trained on ``(xtr, ytr)``."""
    sc = StandardScaler().fit(xtr)
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    clf.fit(sc.transform(xtr), ytr)
    return clf.predict_proba(sc.transform(xte))[:, 1]


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def headroom(ftr: np.ndarray, ytr: np.ndarray, fte: np.ndarray, yte: np.ndarray,
             intensity: np.ndarray, visible: np.ndarray) -> list[dict[str, float]]:
    """Per AU: chance F1, probe F1/AUC from features, with the other AUs' true labels, and the
    AUC per intensity level and visibility (see the module docstring)."""
    rows = []
    for j in range(ytr.shape[1]):
        others = [k for k in range(ytr.shape[1]) if k != j]
        s_img = probe(ftr, ytr[:, j], fte)
        s_rel = probe(np.hstack([ftr, ytr[:, others]]), ytr[:, j], np.hstack([fte, yte[:, others]]))
        y = yte[:, j].astype(int)
        p = y.mean()
        row = {"rate": p, "chance_f1": 2 * p / (1 + p),
               "f1": f1_score(y, s_img >= 0.5, zero_division=0), "auc": _auc(y, s_img),
               "f1_rel": f1_score(y, s_rel >= 0.5, zero_division=0), "auc_rel": _auc(y, s_rel)}
        neg = y == 0
        for level in (2, 3, 4, 5):  # active intensities are drawn in [1.5, 5]
            pos = (y == 1) & (np.rint(intensity[:, j]) == level)
            sel = pos | neg
            row[f"auc_i{level}"] = _auc(y[sel], s_img[sel]) if pos.sum() >= 3 else float("nan")
        for name, m in (("vis", visible[:, j]), ("occ", ~visible[:, j])):
            row[f"auc_{name}"] = _auc(y[m], s_img[m]) if m.sum() >= 10 else float("nan")
        rows.append(row)
    return rows


SUMMARY_KEYS = ("chance_f1", "f1", "d_f1", "auc", "d_auc", "auc_i2", "auc_i3", "auc_i4", "auc_i5",
                "auc_vis", "auc_occ")


def mean_row(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean over AUs (NaN levels skipped) with the headroom ``d_f1``, ``d_auc`` added."""
    with warnings.catch_warnings():  # an AU without positives at some level: NaN, skipped
        warnings.simplefilter("ignore", RuntimeWarning)
        m = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
    m["d_f1"] = m["f1_rel"] - m["f1"]
    m["d_auc"] = m["auc_rel"] - m["auc"]
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["disfa", "bp4d", "emotionet"])
    ap.add_argument("--realism", nargs="+", default=["none"],
                    help="realism presets of afg.data.synth.realism, run side by side (e.g. none real)")
    ap.add_argument("--train-subjects", type=int, default=48)
    ap.add_argument("--test-subjects", type=int, default=16)
    ap.add_argument("--images-per-subject", type=int, default=30)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--occlusion-rate", type=float, default=0.3)
    ap.add_argument("--backbone", default="resnet_tiny")
    ap.add_argument("--weights", default=DEFAULT_PRETRAINING,
                    help="the frozen backbone: a named pretraining (afg.pretrain.PRETRAIN_PRESETS; default: the "
                         "notebooks' default, afg.pretrain.DEFAULT_PRETRAINING) or a weights file")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    bb = create_backbone(args.backbone, img_size=args.size, weights=resolve_weights(args.weights, args.backbone, args.size))
    t_pre = time.perf_counter() - t0
    print(f"{args.backbone} (weights {args.weights}, {t_pre:.0f} s incl. cache), {args.size} px, "
          f"occlusion {args.occlusion_rate}; {args.train_subjects} training / {args.test_subjects} held-out "
          f"identities x {args.images_per_subject} faces; realism {' / '.join(args.realism)}")
    summary = []
    for profile in args.profiles:
        for realism in args.realism:
            t0 = time.perf_counter()
            common = {"images_per_subject": args.images_per_subject, "size": args.size,
                      "occlusion_rate": args.occlusion_rate, "realism": realism}
            train = SynthFaces(profile, n_subjects=args.train_subjects, seed=args.seed, **common)
            test = SynthFaces(profile, n_subjects=args.test_subjects, subject_offset=args.train_subjects,
                              seed=args.seed + 1, **common)
            tag = f"{profile}/{realism}"
            ftr, fte = features(bb, train, f"{tag} train"), features(bb, test, f"{tag} test")
            ltr, lte = train.labels(), test.labels()
            rows = headroom(ftr, ltr["au"], fte, lte["au"], lte["au_intensity"], lte["visible"])
            print(f"\n== {profile}, realism {realism}: {len(ftr)} training / {len(fte)} held-out faces, "
                  f"{time.perf_counter() - t0:.0f} s")
            head = ("AU", "rate", "chance", "F1", "F1+rel", "dF1", "AUC", "AUC+rel", "dAUC",
                    "AUC i2", "i3", "i4", "i5", "vis", "occ")
            print(" ".join(f"{h:>7s}" for h in head))
            for name, r in zip(train.au_names, rows):
                vals = (r["rate"], r["chance_f1"], r["f1"], r["f1_rel"], r["f1_rel"] - r["f1"], r["auc"],
                        r["auc_rel"], r["auc_rel"] - r["auc"], r["auc_i2"], r["auc_i3"],
                        r["auc_i4"], r["auc_i5"], r["auc_vis"], r["auc_occ"])
                print(f"{name:>7s} " + " ".join(f"{v:7.3f}" for v in vals))
            m = mean_row(rows)
            print(f"{'mean':>7s} " + " ".join(f"{m[k]:7.3f}" for k in (
                "rate", "chance_f1", "f1", "f1_rel", "d_f1", "auc", "auc_rel", "d_auc", "auc_i2", "auc_i3",
                "auc_i4", "auc_i5", "auc_vis", "auc_occ")))
            summary.append((profile, realism, m))
    print(f"\nsummary (mean over AUs; {time.perf_counter() - t_all:.0f} s in all): chance F1, probe F1, "
          "relation headroom dF1, probe AUC, dAUC, AUC at intensity 2-5, AUC visible / occluded")
    head = ("profile", "realism", "chance", "F1", "dF1", "AUC", "dAUC", "AUC i2", "i3", "i4", "i5", "vis", "occ")
    print(f"{head[0]:10s} {head[1]:8s} " + " ".join(f"{h:>7s}" for h in head[2:]))
    for profile, realism, m in summary:
        print(f"{profile:10s} {realism:8s} " + " ".join(
            f"{m[k]:+7.3f}" if k.startswith("d_") else f"{m[k]:7.3f}" for k in SUMMARY_KEYS))


if __name__ == "__main__":
    main()
