r"""MEFL — ME-GraphAU's multi-dimensional edge feature learning (Sec. 2.2, Eqs. 3–5).

FAM (Eq. 3–4): every AU map ``U_i (D, C)`` queries the face tokens ``X (D, C)``:
``F_i = CA_fam(U_i, X)``. ARM (Eq. 5): for the ordered pair ``p = i·N + j``, ``F_j`` queries
``F_i``: ``Z_p = CA_arm(F_j, F_i) (D, C)``. Edge projection ``Y_p = Z_p W^T + b``,
BatchNorm2d over the ``N²`` pair channels (statistics of pair p over batch, tokens and
channels), then GAP over tokens: ``e_p = mean_d BN(Y_p)[d] (C,)``. Output ``(B, N², C)``.

Efficient evaluation (default). FAM's output is ``F_i = A_i V`` with ``A_i (D, T)`` its attention
(rows sum to one) and ``V (T, C)`` the projected face tokens, so every affine map of ``F_i`` is
``A_i P`` for one ``(T, ·)`` projection ``P`` of V per sample: the ARM scores of all pairs are
``A_i (P_k P_q^T) A_j^T`` and the edge-projected ARM values ``Q_i = A_i P_v``. With ``A_p (D, D)``
the ARM attention of pair p (rows sum to one), ``Y_p = A_p Q_i`` exactly. Hence

* ``mean_d Y_p = (mean_d A_p) Q_i``;
* BN mean ``μ_p = mean_{b,c}(mean_d Y_p)``;
* BN variance from second moments: with ``s_i`` the token mean of ``Q_i`` (per sample and
  channel; any shift is exact, this one keeps float32 gradients accurate),
  ``Σ_{d,c} (Y_p - s_i)^2 = Σ_d [A_p G_i A_p^T]_{dd}``, ``G_i = (Q_i - s_i)(Q_i - s_i)^T (D, D)``,
  and ``Σ_{d} (Y_p - μ_p)^2 = Σ_d (Y_p - s_i)^2 - D (ȳ_p - s_i)^2 + D (ȳ_p - μ_p)^2`` per sample
  and channel, ``ȳ_p = mean_d Y_p``; ``Q_i - s_i`` and ``G_i`` come from ``A_i`` and ``P_v``
  (:meth:`MEFL._forward_moments`);

so neither the ``(B, N², D, C)`` tensor nor any ``(B, N, D, C)`` one exists: the largest tensors
are the ``(B, N², D, D)`` ARM attention maps, kept once (their product with ``G_i`` is
recomputed in backward). In eval mode the running statistics make the moments unnecessary
(``F.batch_norm`` on the token means). The result equals the straightforward computation
(``efficient=False``) to rounding, including the BN running-statistics update.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .attention import CrossAttention

__all__ = ["MEFL"]


class MEFL(nn.Module):
    """Edge features from AU maps and face tokens.

    Args:
        channels: C.
        num_nodes: N (the BatchNorm2d has N² channels).
        efficient: default evaluation mode (moments; see module docstring).

    Shapes: ``maps`` ``(B, N, D, C)``, ``tokens`` ``(B, D, C)`` -> ``(B, N², C)``, ``p = i·N + j``.
    Submodule names ``FAM``, ``ARM``, ``edge_proj``, ``bn`` follow the authors' ``GEM``.
    """

    def __init__(self, channels: int, num_nodes: int, efficient: bool = True) -> None:
        super().__init__()
        self.channels, self.num_nodes, self.efficient = channels, num_nodes, efficient
        self.FAM = CrossAttention(channels)
        self.ARM = CrossAttention(channels)
        self.edge_proj = nn.Linear(channels, channels)
        self.bn = nn.BatchNorm2d(num_nodes * num_nodes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.edge_proj.weight.data.normal_(0.0, math.sqrt(2.0 / self.channels))
        self.bn.weight.data.fill_(1.0)
        self.bn.bias.data.zero_()

    def fam_attention(self, maps: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """FAM's attention ``A_i = softmax(q(U_i) k(X)^T / sqrt(C/2))`` ``(B, N, D, T)`` (contiguous;
        ``T = D`` face tokens) and its values ``V = v(X)`` ``(B, T, C)``, so that ``F_i = A_i V``.

        X is projected once and shared by all N queries, never repeated, and the query projection
        is folded into the keys: ``(U W_q^T + b_q) k^T = U (k W_q)^T + k b_q`` — a ``(B, T, C)``
        product instead of projecting all ``N·D`` map rows. Maps that are a view of a
        ``(B, D, N, C)`` buffer (:class:`~afg.nn.PerNodeLinear`'s) are read in that layout (no copy
        of U); only the small attention matrix is reordered."""
        b, n, d, c = maps.shape
        fam = self.FAM
        k, v = fam.linear_k(tokens), fam.linear_v(tokens)  # (B, T, C/2), (B, T, C)
        kq = k @ fam.linear_q.weight  # (B, T, C): k W_q
        kb = (k @ fam.linear_q.bias).unsqueeze(1)  # (B, 1, T): k b_q
        by_token = maps.transpose(1, 2)  # (B, D, N, C)
        token_major = by_token.is_contiguous() and not maps.is_contiguous()
        rows = by_token.reshape(b, d * n, c) if token_major else maps.reshape(b, n * d, c)
        att = torch.softmax(torch.baddbmm(kb, rows, kq.transpose(1, 2)) * fam.scale, dim=-1)  # (B, rows, T)
        if token_major:  # rows (d, i) -> (i, d)
            return att.view(b, d, n, -1).transpose(1, 2).contiguous(), v
        return att.view(b, n, d, -1), v

    def facial_cues(self, maps: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """FAM (Eq. 3): ``F_i = CA(U_i, X) = A_i V``; ``(B, N, D, C)``, contiguous."""
        att, v = self.fam_attention(maps, tokens)
        b, n, d, _ = att.shape
        return (att.view(b, n * d, -1) @ v).view(b, n, d, -1)

    def forward(self, maps: torch.Tensor, tokens: torch.Tensor, efficient: bool | None = None) -> torch.Tensor:
        if not (self.efficient if efficient is None else efficient):
            return self._forward_dense(self.facial_cues(maps, tokens))
        return self._forward_moments(*self.fam_attention(maps, tokens))

    # -- straightforward: materialises (B, N, N, D, C) -------------------------------------------
    def _forward_dense(self, f: torch.Tensor) -> torch.Tensor:
        b, n, d, c = f.shape
        z = self.ARM(f.unsqueeze(1), f.unsqueeze(2))  # query F_j (dim 2), context F_i (dim 1)
        y = self.edge_proj(z).reshape(b, n * n, d, c)  # (B, N², D, C)
        return self.bn(y).mean(dim=2)

    # -- efficient: moments only, through the FAM attention ---------------------------------------
    def _value_projection(self, v: torch.Tensor) -> torch.Tensor:
        """``edge_proj(ARM.v(·))`` as one linear map (``W_e W_v``, ``W_e b_v + b_e``)."""
        lin_v, proj = self.ARM.linear_v, self.edge_proj
        w = proj.weight @ lin_v.weight  # (C, C)
        bias = proj.weight @ lin_v.bias + proj.bias
        return F.linear(v, w, bias)

    def _forward_moments(self, att: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``att`` ``(B, N, D, T)`` and ``v`` ``(B, T, C)`` from :meth:`fam_attention`.

        Every ARM input is an affine map of ``F_i = A_i V`` and the rows of ``A_i`` sum to one, so
        ``F_i W^T + b = A_i (V W^T + b)``: queries, keys and edge-projected values of all nodes are
        ``A_i P`` with ``P`` one ``(T, ·)`` projection of V per sample. Hence the ARM scores are
        ``k_i q_j^T = A_i (P_k P_q^T) A_j^T`` (a ``(T, T)`` middle), the centred values are
        ``Q_i - s_i = Ã_i P_v`` with ``Ã_i = A_i - 1 ā_i^T`` (``ā_i`` the token mean of A_i's rows,
        ``s_i = ā_i^T P_v``), ``mean_d Y_p - s_i = (ā_p^T Ã_i) P_v`` and
        ``G_i = Ã_i (P̃_v P̃_v^T) Ã_i^T`` (``Ã_i 1 = 0``, so P_v centred over tokens, ``P̃_v``, gives
        the same G without the large common component: float32 accuracy). No ``(B, N, D, C)``
        tensor is formed at all."""
        b, n, d, t = att.shape
        c = self.channels
        arm = self.ARM
        a_rows = att.view(b, n * d, t)  # rows (i, e)
        pq, pk = arm.linear_q(v), arm.linear_k(v)  # (B, T, C/2)
        scores = (a_rows @ (pk @ pq.transpose(1, 2))) @ a_rows.transpose(1, 2)  # (B, N_i*D_e, N_j*D_d)
        at = torch.softmax((scores * arm.scale).view(b, n, d, n * d), dim=2)  # softmax over the keys e
        a_bar = at.view(b, n, d, n, d).mean(dim=-1)  # (B, N_i, D_e, N_j): token mean of A_p
        pv = self._value_projection(v)  # (B, T, C)
        tok_mean = att.mean(dim=2)  # (B, N_i, T): ā_i
        shift = tok_mean @ pv  # (B, N_i, C): s_i = mean_e Q_i
        pvc = pv - pv.mean(dim=1, keepdim=True)  # (B, T, C): P̃_v
        a_til = att - tok_mean.unsqueeze(2)  # (B, N_i, D_e, T): Ã_i
        w = a_bar.transpose(-1, -2) @ a_til  # (B, N_i, N_j, T)
        z = (w.view(b, n * n, t) @ pvc).view(b, n, n, c)  # mean_d Y_p - s_i
        y_bar = z + shift.unsqueeze(2)  # (B, N_i, N_j, C) = mean_d Y_p
        bn = self.bn
        y = y_bar.reshape(b, n * n, c)  # p = i*N + j: the BN channel
        if not self.training and bn.running_mean is not None:
            # eval: BN is affine per pair, so mean_d BN(Y_p) = BN(mean_d Y_p): the library's, on (B, N², C)
            return F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        cnt = b * d * c
        mu = y_bar.mean(dim=(0, 3), keepdim=True)  # (1, N_i, N_j, 1)
        dev = y_bar - mu
        gram = (a_til @ (pvc @ pvc.transpose(1, 2)).unsqueeze(1)) @ a_til.transpose(-1, -2)  # (B, N_i, D, D)
        # Σ_{d,c} (Y_p - s_i)² = Σ_{d,e,e'} A[d,e] G[e,e'] A[d,e']
        sq = _gram_quadratic(gram, at).view(b, n, n, d).sum(dim=(0, 3))  # (N_i, N_j)
        # Σ_d (Y_d - μ)² = Σ_d (Y_d - s)² - D (ȳ - s)² + D (ȳ - μ)²   (per b, c; ȳ = mean_d Y)
        var = ((sq + d * ((dev * dev).sum(dim=(0, 3)) - (z * z).sum(dim=(0, 3)))) / cnt).clamp_min(0)
        mean_used, var_used = mu.reshape(-1), var.reshape(-1)  # biased batch moments (N²,)
        if self.training and bn.track_running_stats and bn.running_mean is not None:
            # By hand because nn.BatchNorm2d only updates from the tensor it normalises, and Y (B, N², D, C)
            # is never built; this is _BatchNorm.forward's rule (tested against it in test_nn_graph_modules.py).
            with torch.no_grad():
                bn.num_batches_tracked.add_(1)
                m = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
                bn.running_mean.mul_(1 - m).add_(m * mean_used.detach())
                bn.running_var.mul_(1 - m).add_(m * var_used.detach() * cnt / max(cnt - 1, 1))
        # normalising with batch moments that need gradients: F.batch_norm takes them only as
        # (non-differentiable) running buffers, so the affine map is written out
        inv = torch.rsqrt(var_used + bn.eps)  # (N²,)
        scale = inv if bn.weight is None else inv * bn.weight
        out = dev.reshape(b, n * n, c) * scale.view(1, -1, 1)
        if bn.bias is not None:
            out = out + bn.bias.view(1, -1, 1)
        return out


class _GramQuadratic(torch.autograd.Function):
    """``sq[..., k] = Σ_{e,e'} A[..., e, k] G[..., e, e'] A[..., e', k]`` for a symmetric ``G``
    ``(…, D, D)`` and ``A`` ``(…, D, K)`` -> ``(…, K)``. Saves only ``G`` and ``A``; the
    ``(…, D, K)`` product ``G A`` is recomputed in backward instead of being kept:
    ``∂sq/∂A = 2 (G A) diag(g)``, ``∂sq/∂G = A diag(g) A^T``."""

    @staticmethod
    def forward(ctx, gram: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(gram, at)
        return ((gram @ at) * at).sum(dim=-2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        gram, at = ctx.saved_tensors
        dt = torch.promote_types(gram.dtype, at.dtype)  # autocast may have left them apart
        g = grad.to(dt).unsqueeze(-2)  # (…, 1, K)
        a = at.to(dt)
        d_gram = d_at = None
        if ctx.needs_input_grad[0]:
            d_gram = ((a * g) @ a.transpose(-1, -2)).to(gram.dtype)
        if ctx.needs_input_grad[1]:
            d_at = (gram.to(dt) @ a).mul_(g).mul_(2).to(at.dtype)
        return d_gram, d_at


def _gram_quadratic(gram: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """:class:`_GramQuadratic`: ``gram (B, N, D, D)`` symmetric, ``at (B, N, D, K)`` -> ``(B, N, K)``."""
    return _GramQuadratic.apply(gram, at)
