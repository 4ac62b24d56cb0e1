"""Relational GCN layer (Schlichtkrull et al. 2018; SVML-RGCN Eq. 7), dense over relations."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["RGCNLayer", "relation_mean_normalize"]


def relation_mean_normalize(adj: torch.Tensor) -> torch.Tensor:
    r"""Divide each relation's rows by :math:`c_{i,r} = |N_i^r|` (rows without neighbours stay 0).

    ``adj``: ``(..., R, N, N)`` with ``adj[..., r, i, j] = 1`` when ``j ∈ N_i^r``.
    """
    deg = adj.sum(-1, keepdim=True)
    return torch.where(deg > 0, adj / deg.clamp_min(1e-12), torch.zeros_like(adj))


class RGCNLayer(nn.Module):
    r"""SVML-RGCN Eq. 7:

    .. math:: h_i' = \sigma\Big(\sum_{r} \sum_{j \in N_i^r} \tfrac{1}{|N_i^r|} W_r h_j
              + W_0 h_i (+ b)\Big)

    computed densely for all relations at once: ``Σ_r (Â_r X) W_r + X W_0`` with ``Â_r`` the
    row-normalised relation adjacency.

    Basis decomposition (Schlichtkrull et al. Eq. 3): ``W_r = Σ_b a_rb V_b`` when ``num_bases``
    is given. Weights are stored as ``(in, out)`` matrices (``h W``, i.e. the transposes of the
    paper's ``W_r``).

    Args:
        in_features, out_features: node feature sizes ``d^(l)``, ``d^(l+1)``.
        num_relations: ``R`` (2 for positive + negative).
        num_bases: number of bases ``B`` (``None``: one full matrix per relation).
        self_loop: include the ``W_0 h_i`` term.
        bias: add a learned bias.
        activation: ``σ`` (``None`` = identity; the model applies it between layers).
        normalize: divide by ``|N_i^r|`` (mean per relation); False uses ``adj`` as given.

    Shapes: ``x`` ``(N, F_in)`` or ``(B, N, F_in)``; ``adj`` ``(R, N, N)`` or ``(B, R, N, N)``
    with ``adj[r, i, j] = 1`` when ``j ∈ N_i^r`` (message ``j → i``); output ``(…, N, F_out)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        num_relations: int,
        num_bases: int | None = None,
        self_loop: bool = True,
        bias: bool = True,
        activation: nn.Module | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.num_relations = num_relations
        self.num_bases = num_bases
        self.normalize = normalize
        n_mats = num_relations if num_bases is None else num_bases
        self.weight = nn.Parameter(torch.empty(n_mats, in_features, out_features))  # W_r or V_b
        self.coefficients = (
            nn.Parameter(torch.empty(num_relations, num_bases)) if num_bases is not None else None
        )  # a_rb
        self.self_weight = nn.Parameter(torch.empty(in_features, out_features)) if self_loop else None
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.activation = activation
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.weight)
        if self.coefficients is not None:
            nn.init.xavier_uniform_(self.coefficients)
        if self.self_weight is not None:
            nn.init.xavier_uniform_(self.self_weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def relation_weights(self) -> torch.Tensor:
        """``(R, F_in, F_out)``: ``W_r``, or ``Σ_b a_rb V_b`` with bases."""
        if self.coefficients is None:
            return self.weight
        return torch.einsum("rb,bio->rio", self.coefficients, self.weight)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        if adj.shape[-3] != self.num_relations:
            raise ValueError(f"adj has {adj.shape[-3]} relations, layer expects {self.num_relations}")
        a = relation_mean_normalize(adj) if self.normalize else adj  # (…, R, N, N)
        a = a.to(x.dtype)
        w = self.relation_weights()  # (R, F_in, F_out)
        if self.in_features > self.out_features:  # transform first (cheaper)
            xw = torch.einsum("...jf,rfo->...rjo", x, w)  # (…, R, N, F_out)
            out = (a @ xw).sum(-3)  # Σ_r Â_r (X W_r)
        else:
            ax = a @ x.unsqueeze(-3)  # (…, R, N, F_in)
            out = torch.einsum("...rif,rfo->...io", ax, w)
        if self.self_weight is not None:
            out = out + x @ self.self_weight  # W_0 h_i
        if self.bias is not None:
            out = out + self.bias
        if self.activation is not None:
            out = self.activation(out)
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, {self.out_features}, relations={self.num_relations}, "
            f"bases={self.num_bases}, self_loop={self.self_weight is not None}, "
            f"bias={self.bias is not None}"
        )
