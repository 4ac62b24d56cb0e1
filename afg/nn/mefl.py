r"""MEFL — ME-GraphAU's multi-dimensional edge feature learning (Sec. 2.2, Eqs. 3–5).

FAM (Eq. 3–4): every AU map ``U_i (D, C)`` queries the face tokens ``X (D, C)``:
``F_i = CA_fam(U_i, X)``. ARM (Eq. 5): for the ordered pair ``p = i·N + j``, ``F_j`` queries
``F_i``: ``Z_p = CA_arm(F_j, F_i) (D, C)``. Edge projection ``Y_p = Z_p W^T + b``,
BatchNorm2d over the ``N²`` pair channels (statistics of pair p over batch, tokens and
channels), then GAP over tokens: ``e_p = mean_d BN(Y_p)[d] (C,)``. Output ``(B, N², C)``.

Efficient evaluation (default). q/k/v are projected once per node. With ``A_p (D, D)`` the ARM
attention of pair p (rows sum to one) and ``Q_i = v_i W^T + b`` the edge-projected ARM values of
node i, ``Y_p = A_p Q_i`` exactly. Hence

* ``mean_d Y_p = (mean_d A_p) Q_i`` — a ``(D,) x (D, C)`` product per pair;
* BN mean ``μ_p = mean_{b,c}(mean_d Y_p)``;
* BN variance from second moments: with ``s_i`` the token mean of ``Q_i`` (per sample and
  channel; any shift is exact, this one keeps float32 gradients accurate),
  ``Σ_{d,c} (Y_p - s_i)^2 = Σ_d [A_p G_i A_p^T]_{dd}``, ``G_i = (Q_i - s_i)(Q_i - s_i)^T (D, D)``,
  and ``Σ_{d} (Y_p - μ_p)^2 = Σ_d (Y_p - s_i)^2 - D (ȳ_p - s_i)^2 + D (ȳ_p - μ_p)^2`` per sample
  and channel, ``ȳ_p = mean_d Y_p``;

so the ``(B, N², D, C)`` tensor never exists: the largest tensors are the ``(B, N², D, D)``
attention maps, kept once (their product with ``G_i`` is recomputed in backward, and only the
centred ``Q_i - s_i`` of the values is kept). In eval mode the running statistics make the moments unnecessary (``F.batch_norm``
on the token means). The result equals the straightforward computation (``efficient=False``) to
rounding, including the BN running-statistics update.
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

    def facial_cues(self, maps: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """FAM (Eq. 3): ``F_i = CA(U_i, X)``; ``(B, N, D, C)``, contiguous.

        X is projected once and shared by all N queries, never repeated, and the query projection
        is folded into the keys: ``(U W_q^T + b_q) k^T = U (k W_q)^T + k b_q`` — a ``(B, D, C)``
        product instead of projecting all ``N·D`` map rows (Eq. 4 unchanged, fewer FLOPs, no
        ``(B, N·D, C/2)`` queries kept). Maps that are a view of a ``(B, D, N, C)`` buffer
        (:class:`~afg.nn.PerNodeLinear`'s) are read in that layout (no copy of U); only the small
        attention matrix is reordered."""
        b, n, d, c = maps.shape
        fam = self.FAM
        k, v = fam.linear_k(tokens), fam.linear_v(tokens)  # (B, D, C/2), (B, D, C)
        kq = k @ fam.linear_q.weight  # (B, D, C): k W_q
        kb = (k @ fam.linear_q.bias).unsqueeze(1)  # (B, 1, D): k b_q
        by_token = maps.transpose(1, 2)  # (B, D, N, C)
        token_major = by_token.is_contiguous() and not maps.is_contiguous()
        rows = by_token.reshape(b, d * n, c) if token_major else maps.reshape(b, n * d, c)
        att = torch.softmax(torch.baddbmm(kb, rows, kq.transpose(1, 2)) * fam.scale, dim=-1)  # (B, rows, D)
        if token_major:  # rows (d, i) -> (i, d)
            att = att.view(b, d, n, -1).transpose(1, 2).reshape(b, n * d, -1)
        return (att @ v).view(b, n, d, c)

    def forward(self, maps: torch.Tensor, tokens: torch.Tensor, efficient: bool | None = None) -> torch.Tensor:
        f = self.facial_cues(maps, tokens)  # (B, N, D, C)
        if not (self.efficient if efficient is None else efficient):
            return self._forward_dense(f)
        return self._forward_moments(f)

    # -- straightforward: materialises (B, N, N, D, C) -------------------------------------------
    def _forward_dense(self, f: torch.Tensor) -> torch.Tensor:
        b, n, d, c = f.shape
        z = self.ARM(f.unsqueeze(1), f.unsqueeze(2))  # query F_j (dim 2), context F_i (dim 1)
        y = self.edge_proj(z).reshape(b, n * n, d, c)  # (B, N², D, C)
        return self.bn(y).mean(dim=2)

    # -- efficient: moments only ------------------------------------------------------------------
    def _arm_attention(self, f: torch.Tensor) -> torch.Tensor:
        """ARM weights in layout ``At[b, i, e, j*D + d]`` = softmax_e(q(F_j)_d · k(F_i)_e / sqrt(C/2)),
        ``(B, N_i, D_e, N_j·D_d)``: one matmul for all pairs, no permuted copies."""
        b, n, d, _ = f.shape
        arm = self.ARM
        q = arm.linear_q(f).reshape(b, n * d, -1)  # projected once per node
        k = arm.linear_k(f).reshape(b, n * d, -1)
        s = torch.bmm(k, q.transpose(1, 2)) * arm.scale  # (B, N_i*D_e, N_j*D_d)
        return torch.softmax(s.view(b, n, d, n * d), dim=2)  # normalise over the keys e

    def _value_projection(self, f: torch.Tensor) -> torch.Tensor:
        """``Q_i = edge_proj(ARM.v(F_i))`` as one linear map (``W_e W_v``, ``W_e b_v + b_e``)."""
        lin_v, proj = self.ARM.linear_v, self.edge_proj
        w = proj.weight @ lin_v.weight  # (C, C)
        bias = proj.weight @ lin_v.bias + proj.bias
        return F.linear(f, w, bias)  # (B, N, D, C)

    def _forward_moments(self, f: torch.Tensor) -> torch.Tensor:
        b, n, d, c = f.shape
        at = self._arm_attention(f)  # (B, N_i, D_e, N_j*D_d)
        a_bar = at.view(b, n, d, n, d).mean(dim=-1)  # (B, N_i, D_e, N_j): token mean of A_p
        # Q_i centred on its token mean s_i (per sample and channel), in place: only Q - s is kept.
        # Rows of A_p sum to one, so mean_d Y_p = ā_p^T (Q_i - s_i) + s_i exactly; with s_i
        # detached, the gradient that ā misses is constant over the keys e and the softmax's
        # Jacobian annihilates it, so gradients are exact too. The shift keeps the Gram matrix
        # free of the large common component (float32 accuracy).
        qc = self._value_projection(f)  # (B, N_i, D_e, C) = Q_i
        shift = qc.detach().mean(dim=2, keepdim=True)  # (B, N_i, 1, C)
        qc = qc.sub_(shift)
        z = a_bar.transpose(-1, -2) @ qc  # (B, N_i, N_j, C) = mean_d Y_p - s_i
        y_bar = z + shift  # mean_d Y_p
        bn = self.bn
        y = y_bar.reshape(b, n * n, c)  # p = i*N + j: the BN channel
        if not self.training and bn.running_mean is not None:
            # eval: BN is affine per pair, so mean_d BN(Y_p) = BN(mean_d Y_p): the library's, on (B, N², C)
            return F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        cnt = b * d * c
        mu = y_bar.mean(dim=(0, 3), keepdim=True)  # (1, N_i, N_j, 1)
        t = y_bar - mu
        # Σ_{d,c} (Y_p - s)² = Σ_{d,e,e'} A[d,e] G[e,e'] A[d,e'],  G_i = (Q_i - s_i)(Q_i - s_i)^T
        sq = _gram_quadratic(qc, at).view(b, n, n, d).sum(dim=(0, 3))  # (N_i, N_j)
        # Σ_d (Y_d - μ)² = Σ_d (Y_d - s)² - D (ȳ - s)² + D (ȳ - μ)²   (per b, c; ȳ = mean_d Y)
        var = ((sq + d * ((t * t).sum(dim=(0, 3)) - (z * z).sum(dim=(0, 3)))) / cnt).clamp_min(0)
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
        out = t.reshape(b, n * n, c) * scale.view(1, -1, 1)
        if bn.bias is not None:
            out = out + bn.bias.view(1, -1, 1)
        return out


class _GramQuadratic(torch.autograd.Function):
    """``sq[..., k] = Σ_{e,e'} A[..., e, k] G[..., e, e'] A[..., e', k]`` with ``G = X X^T``, for
    ``X`` ``(…, D, C)`` and ``A`` ``(…, D, K)`` -> ``(…, K)``. Saves only ``X`` and ``A``; the
    small ``G`` and the ``(…, D, K)`` product ``G A`` are recomputed in backward instead of being
    kept: ``∂sq/∂A = 2 (G A) diag(g)``, ``∂sq/∂G = A diag(g) A^T`` (symmetric), so
    ``∂sq/∂X = 2 (∂sq/∂G) X`` — one ``(…, D, C)`` gradient where autograd would build three."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, at)
        gram = x @ x.transpose(-1, -2)  # (…, D, D)
        return ((gram @ at) * at).sum(dim=-2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, at = ctx.saved_tensors
        dt = torch.promote_types(x.dtype, at.dtype)  # autocast may have left them apart
        g = grad.to(dt).unsqueeze(-2)  # (…, 1, K)
        a, xd = at.to(dt), x.to(dt)
        d_x = d_at = None
        if ctx.needs_input_grad[0]:
            d_gram = (a * g) @ a.transpose(-1, -2)  # (…, D, D)
            d_x = (d_gram @ xd).mul_(2).to(x.dtype)
        if ctx.needs_input_grad[1]:
            d_at = (xd @ xd.transpose(-1, -2)) @ a
            d_at = d_at.mul_(g).mul_(2).to(at.dtype)
        return d_x, d_at


def _gram_quadratic(x: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """:class:`_GramQuadratic`: ``x (B, N, D, C)``, ``at (B, N, D, K)`` -> ``(B, N, K)``."""
    return _GramQuadratic.apply(x, at)
