"""Sparse autoencoders on hidden activations (Bricken et al. 2023; Gao et al. 2024 for TopK).

x (B, d) -> z = ReLU(W_enc (x - b_dec) + b_enc) (B, m), m = expansion * d;
x_hat = W_dec z + b_dec. Two variants:

* ``l1``: loss = MSE + l1 * sum_i |z_i| * ||W_dec[:, i]||  (L1 weighted by decoder
  column norms, so shrinking the decoder cannot cheat the penalty);
* ``topk``: keep the k largest latents per sample, zero the rest; loss = normalised MSE
  (MSE / the training activations' variance, as in Gao et al.), plus
  Gao et al.'s auxiliary loss on dead latents (AuxK): the ``k_aux`` largest
  pre-activations among the latents that have not fired for ``dead_after`` training
  samples reconstruct the main reconstruction's error e = x - x_hat (decoder without
  bias), scored as MSE(e_hat, e) / MSE(mean(e), e) and weighted by ``aux_coef`` (the paper's 1/32 by
  default here; the study's config uses 0.25, see the README);
  decoder columns are renormalised to unit norm after every step (their A.1).

Both start with b_dec at the mean activation and the encoder as the decoder's transpose.
"""

from __future__ import annotations

import torch
import torch.nn as nn

SAE_KINDS = ("l1", "topk")


class SparseAutoencoder(nn.Module):
    def __init__(self, d: int, expansion: int = 8, kind: str = "topk", k: int = 8, l1: float = 1e-3,
                 k_aux: int | None = None, aux_coef: float = 1 / 32):
        super().__init__()
        if kind not in SAE_KINDS:
            raise ValueError(f"unknown SAE kind {kind!r}; valid: {', '.join(SAE_KINDS)}")
        m = d * expansion
        self.d, self.m, self.kind, self.k, self.l1 = d, m, kind, k, l1
        self.k_aux = max(1, d // 2) if k_aux is None else k_aux
        self.aux_coef = aux_coef
        self.encoder = nn.Linear(d, m)
        self.decoder = nn.Linear(m, d, bias=False)
        self.b_dec = nn.Parameter(torch.zeros(d))
        with torch.no_grad():
            w = torch.randn(d, m)
            w /= w.norm(dim=0, keepdim=True)
            self.decoder.weight.copy_(w)
            self.encoder.weight.copy_(w.T)
            self.encoder.bias.zero_()

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.encoder(x - self.b_dec))  # (B, m)

    def sparsify(self, pre: torch.Tensor) -> torch.Tensor:
        if self.kind == "topk":
            vals, idx = pre.topk(self.k, dim=1)
            return torch.zeros_like(pre).scatter(1, idx, vals)
        return pre

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.sparsify(self.pre_activations(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z) + self.b_dec

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return self.decode(z), z

    def loss(self, x: torch.Tensor, dead: torch.Tensor | None = None,
             variance: float | None = None) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        """(loss, logs, z); ``dead`` (m,) bool marks the latents the auxiliary loss revives; ``variance`` is the
        activations' mean squared deviation that normalises the MSE (default: this batch's; ``train_sae`` passes the
        whole training set's once, so a tiny last batch cannot blow the loss up)."""
        pre = self.pre_activations(x)
        z = self.sparsify(pre)
        x_hat = self.decode(z)
        mse = (x_hat - x).pow(2).mean()
        var = variance if variance is not None else (x - x.mean(0)).pow(2).mean().clamp_min(1e-12)
        loss = mse / var if self.kind == "topk" else mse  # normalised MSE
        logs = {"mse": mse.item()}
        if self.kind == "l1":
            sparsity = (z * self.decoder.weight.norm(dim=0)).sum(1).mean()
            loss = loss + self.l1 * sparsity
            logs["l1"] = sparsity.item()
        elif dead is not None and self.aux_coef > 0 and bool(dead.any()) and x.shape[0] > 1:  # one row has no spread
            k_aux = min(self.k_aux, int(dead.sum()))
            vals, idx = pre.masked_fill(~dead, -1.0).topk(k_aux, dim=1)  # pre >= 0, so live latents are never picked
            e = (x - x_hat).detach()
            e_hat = self.decoder(torch.zeros_like(pre).scatter(1, idx, vals.clamp_min(0)))
            aux = (e_hat - e).pow(2).mean() / (e - e.mean(0)).pow(2).mean().clamp_min(1e-12)
            loss = loss + self.aux_coef * aux
            logs["aux"] = aux.item()
        return loss, logs, z

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.decoder.weight.div_(self.decoder.weight.norm(dim=0, keepdim=True).clamp_min(1e-12))

    def config(self) -> dict:
        return {"d": self.d, "expansion": self.m // self.d, "kind": self.kind, "k": self.k, "l1": self.l1,
                "k_aux": self.k_aux, "aux_coef": self.aux_coef}


def train_sae(
    sae: SparseAutoencoder, acts: torch.Tensor, epochs: int, batch_size: int, lr: float, seed: int,
    progress=None, dead_after: int = 10_000,
) -> list[float]:
    """Adam on activations (N, d); returns the mean loss per epoch. A latent counts as dead for the
    auxiliary loss once it has not fired on the last ``dead_after`` training samples."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        sae.b_dec.copy_(acts.mean(0))
        variance = float((acts - acts.mean(0)).pow(2).mean().clamp_min(1e-12))
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    losses = []
    n = acts.shape[0]
    since_fired = torch.zeros(sae.m, dtype=torch.long, device=acts.device)
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen).to(acts.device)
        total, count = 0.0, 0
        for i in range(0, n, batch_size):
            batch = acts[perm[i : i + batch_size]]
            loss, _, z = sae.loss(batch, since_fired >= dead_after, variance)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sae.kind == "topk":
                sae.normalize_decoder()
            since_fired += batch.shape[0]
            since_fired[(z > 0).any(0)] = 0
            total += loss.item()
            count += 1
        losses.append(total / count)
        if progress:
            progress(epoch + 1, losses[-1])
    return losses
