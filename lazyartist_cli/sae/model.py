"""Sparse autoencoders on hidden activations (Bricken et al. 2023; Gao et al. 2024 for TopK).

x (B, d) -> z = ReLU(W_enc (x - b_dec) + b_enc) (B, m), m = expansion * d;
x_hat = W_dec z + b_dec. Two variants:

* ``l1``: loss = MSE + l1 * sum_i |z_i| * ||W_dec[:, i]||  (L1 weighted by decoder
  column norms, so shrinking the decoder cannot cheat the penalty);
* ``topk``: keep the k largest latents per sample, zero the rest; loss = MSE.
"""

from __future__ import annotations

import torch
import torch.nn as nn

SAE_KINDS = ("l1", "topk")


class SparseAutoencoder(nn.Module):
    def __init__(self, d: int, expansion: int = 8, kind: str = "topk", k: int = 8, l1: float = 1e-3):
        super().__init__()
        if kind not in SAE_KINDS:
            raise ValueError(f"unknown SAE kind {kind!r}; valid: {', '.join(SAE_KINDS)}")
        m = d * expansion
        self.d, self.m, self.kind, self.k, self.l1 = d, m, kind, k, l1
        self.encoder = nn.Linear(d, m)
        self.decoder = nn.Linear(m, d, bias=False)
        self.b_dec = nn.Parameter(torch.zeros(d))
        with torch.no_grad():
            w = torch.randn(d, m)
            w /= w.norm(dim=0, keepdim=True)
            self.decoder.weight.copy_(w)
            self.encoder.weight.copy_(w.T)
            self.encoder.bias.zero_()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.relu(self.encoder(x - self.b_dec))  # (B, m)
        if self.kind == "topk":
            vals, idx = z.topk(self.k, dim=1)
            z = torch.zeros_like(z).scatter(1, idx, vals)
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z) + self.b_dec

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return self.decode(z), z

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        x_hat, z = self(x)
        mse = (x_hat - x).pow(2).mean()
        loss = mse
        logs = {"mse": mse.item()}
        if self.kind == "l1":
            sparsity = (z * self.decoder.weight.norm(dim=0)).sum(1).mean()
            loss = loss + self.l1 * sparsity
            logs["l1"] = sparsity.item()
        return loss, logs

    def config(self) -> dict:
        return {"d": self.d, "expansion": self.m // self.d, "kind": self.kind, "k": self.k, "l1": self.l1}


def train_sae(
    sae: SparseAutoencoder, acts: torch.Tensor, epochs: int, batch_size: int, lr: float, seed: int,
    progress=None,
) -> list[float]:
    """Adam on activations (N, d); returns the mean loss per epoch."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    losses = []
    n = acts.shape[0]
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen).to(acts.device)
        total, count = 0.0, 0
        for i in range(0, n, batch_size):
            loss, _ = sae.loss(acts[perm[i : i + batch_size]])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            count += 1
        losses.append(total / count)
        if progress:
            progress(epoch + 1, losses[-1])
    return losses
