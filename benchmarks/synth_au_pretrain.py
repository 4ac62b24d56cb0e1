"""Would a backbone that has seen AU labels let the expression models learn on synthetic faces?

Run::

    python benchmarks/synth_au_pretrain.py --out /tmp/resnet_tiny_au.pt
    python benchmarks/synth_margins.py --papers emotion_gcn svml_rgcn --seeds 0 1 \\
        --set model.weights=/tmp/resnet_tiny_au.pt

The first command starts from the landmark-pretrained ``resnet_tiny`` (``weights="synthetic"``,
:mod:`afg.pretrain`) and fine-tunes it, with a linear head on its mean-pooled tokens
(:func:`afg.pretrain.fit_pooled_head`), on the 18 AU labels (binary cross-entropy) of the
pretraining identities (``all`` profile, ids from :data:`afg.pretrain.PRETRAIN_SUBJECT_OFFSET`, so
disjoint from every dataset the configs build; no expression, emotion or valence label is
used). It prints the loss per epoch and the held-out mean AU AUC on 10 further disjoint
identities, and writes the backbone's weights (timm layout) to ``--out``, which any config can
load through ``model.weights``. The second command trains the two expression models on it. This is
the issue #26 lever "the backbone initialisation" for the expression models: their task is a
function of the AUs, so a backbone that detects AUs should make it easier.

Measured (afg ``37ceff5``, a 2-core AMD EPYC without AVX-512, 3 Dec 2026; defaults: 60 x 40
faces, 6 epochs, AdamW 1e-3 one-cycle, batch 32): 229 s; BCE 0.509, 0.340, 0.336, 0.320, 0.305,
0.298; held-out mean AU AUC **0.63** (per AU 0.43-0.95): the backbone learns the AUs only weakly.
On it (fold 1, seeds 0 / 1, one run each): Emotion-GCN accuracy 0.228 / 0.198 (the landmark
backbone: 0.168 / 0.210; chance 0.155), classes at or below chance 4 / 4 of 7; SVML-RGCN AP
0.602 / 0.640 against a frequency ranking's 0.631 (landmark backbone 0.603 / 0.639), macro-AUC
0.612 / 0.578 (0.569 / 0.566). No criterion of issue #26 is met, so the default keeps the landmark
backbone.
"""
from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="where to write the backbone's weights (.pt)")
    ap.add_argument("--subjects", type=int, default=60)
    ap.add_argument("--images", type=int, default=40, help="faces per identity")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--size", type=int, default=112)
    args = ap.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F

    from afg.backbones import create_backbone
    from afg.data.synth import SynthFaces
    from afg.metrics.au import au_auc
    from afg.pretrain import PRETRAIN_SUBJECT_OFFSET, fit_pooled_head, synthetic_weights

    t0 = time.perf_counter()
    start = synthetic_weights("resnet_tiny", args.size)

    def faces(n: int, seed: int, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        ds = SynthFaces("all", n_subjects=n, images_per_subject=args.images, size=args.size, seed=seed,
                        subject_offset=offset)
        items = [ds[i] for i in range(len(ds))]
        return torch.stack([it["image"] for it in items]), torch.stack([it["au"] for it in items])

    x, y = faces(args.subjects, 0, PRETRAIN_SUBJECT_OFFSET)  # (n, 3, S, S), (n, 18)
    torch.manual_seed(0)
    bb = create_backbone("resnet_tiny", weights=str(start), img_size=args.size)
    head, losses = fit_pooled_head(
        bb, x, y, F.binary_cross_entropy_with_logits, epochs=args.epochs, batch_size=32, lr=args.lr,
        weight_decay=1e-2, generator=torch.Generator().manual_seed(0),
        schedule=lambda opt, steps: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps,
                                                                        pct_start=0.15),
        desc="fine-tune on synthetic AU labels")
    torch.save({k: v.detach().clone() for k, v in bb.model.state_dict().items()}, args.out)

    xt, yt = faces(10, 1, PRETRAIN_SUBJECT_OFFSET + 1_000)  # held-out identities
    bb.eval()
    with torch.no_grad():
        s = torch.cat([head(bb(xt[i:i + 64]).mean(1)) for i in range(0, len(xt), 64)])
    aucs = au_auc(yt, s)  # (18,), NaN for an AU with one class in the held-out faces
    print(f"BCE per epoch: {', '.join(f'{v:.3f}' for v in losses)}")
    print(f"held-out mean AU AUC {np.nanmean(aucs):.3f} (per AU {np.nanmin(aucs):.2f}-{np.nanmax(aucs):.2f}); "
          f"{time.perf_counter() - t0:.0f} s; weights: {args.out}")


if __name__ == "__main__":
    main()
