"""Activation maximisation, batched over units (Erhan et al. 2009; Olah et al., "Feature Visualization", 2017).

Optimise one input image per unit, all units of a layer in one batch, with
Adam, to maximise the unit's activation: a channel's spatial mean, a single
neuron (the centre position of a channel), or a unit of a linear layer (on
the last linear layer this is a class logit). Regularisers, each optional:
L2 penalty on (x - 0.5), total variation, random jitter (a roll of up to
``jitter`` pixels per step), Gaussian blur every ``blur_every`` steps (pixel
parameterisation). Two parameterisations: plain pixels (clamped to [0, 1]
after each step) and a Fourier one with decorrelated colour, passed through a
sigmoid (Olah et al. / Lucid): the spectrum is scaled by 1/frequency so that
low frequencies dominate.

Transformation robustness (``scale``, ``rotate``: a random affine per image and
step, after the jitter) and ``restarts`` (independent starts per unit, all in one
batch; the one reaching the highest objective is kept) make the images less
dependent on one pixel grid and one start. ``colourness`` measures how much of
a visualisation is colour rather than edges.

Shapes: ``units`` (U,) indices into the layer's channels or features;
returns images (U, 3, H, W) in [0, 1] and the objective reached (U,).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import eval_mode

from .hooks import LayerCapture

# square root of the colour correlation of natural images (Lucid's ImageNet estimate)
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR_DECORRELATION = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


@dataclass
class ActMaxConfig:
    steps: int = 500
    lr: float = 0.05
    param: str = "fft"  # "pixel" | "fft"
    objective: str = "channel"  # "channel" | "neuron"
    l2: float = 1e-3
    tv: float = 1e-2
    jitter: int = 2
    blur_every: int = 0
    size: int = 28
    scale: float = 0.0  # random rescaling by a factor in [1 - scale, 1 + scale] per step and image
    rotate: float = 0.0  # random rotation of up to this many degrees per step and image
    restarts: int = 1  # independent starts per unit; the one reaching the highest objective is kept


def random_affine(x: torch.Tensor, scale: float, rotate: float, generator: torch.Generator) -> torch.Tensor:
    """Each image rescaled and rotated by its own random amount (transformation robustness, Olah et al. 2017)."""
    n = x.shape[0]
    s = 1 + (torch.rand(n, generator=generator) * 2 - 1) * scale
    a = (torch.rand(n, generator=generator) * 2 - 1) * rotate * torch.pi / 180
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = a.cos() / s, -a.sin() / s
    theta[:, 1, 0], theta[:, 1, 1] = a.sin() / s, a.cos() / s
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def colourness(images: torch.Tensor) -> torch.Tensor:
    """How much of a visualisation is colour rather than edges, per image (U,), in [0, 1]: the chromatic energy
    (mean squared distance of each pixel from the gray axis) over itself plus the edge energy (mean squared
    gradient of the luminance). A flat colour patch scores 1, a gray edge pattern 0."""
    gray = images.mean(1, keepdim=True)
    chroma = (images - gray).pow(2).sum(1).mean((1, 2))
    lum = gray[:, 0]
    edges = (lum[:, 1:, :] - lum[:, :-1, :]).pow(2).mean((1, 2)) + (lum[:, :, 1:] - lum[:, :, :-1]).pow(2).mean((1, 2))
    return chroma / (chroma + edges).clamp_min(1e-12)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels, per image. (B,)"""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean((1, 2, 3)) + (x[..., :, 1:] - x[..., :, :-1]).abs().mean((1, 2, 3))


def gaussian_blur(x: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    k = torch.tensor([-1.0, 0.0, 1.0], device=x.device)
    w = torch.exp(-(k**2) / (2 * sigma**2))
    w = w / w.sum()
    kernel = (w[:, None] * w[None, :])[None, None].repeat(x.shape[1], 1, 1, 1)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])


class FourierImage(nn.Module):
    """(U, 3, H, W) images from a learnable, frequency-scaled spectrum with decorrelated colour."""

    def __init__(self, n: int, size: int, generator: torch.Generator):
        super().__init__()
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freqs = (fx**2 + fy**2).sqrt()
        self.register_buffer("scale", 1.0 / freqs.clamp_min(1.0 / size))
        self.spectrum = nn.Parameter(0.01 * torch.randn(n, 3, size, size // 2 + 1, 2, generator=generator))
        self.size = size

    def forward(self) -> torch.Tensor:
        spec = torch.view_as_complex(self.spectrum) * self.scale
        img = torch.fft.irfft2(spec, s=(self.size, self.size), norm="ortho") / 4.0  # (U, 3, H, W)
        img = torch.einsum("ij,bjhw->bihw", COLOR_DECORRELATION.to(img.device), img)
        return torch.sigmoid(img)


class PixelImage(nn.Module):
    def __init__(self, n: int, size: int, generator: torch.Generator):
        super().__init__()
        self.pixels = nn.Parameter(0.5 + 0.01 * torch.randn(n, 3, size, size, generator=generator))

    def forward(self) -> torch.Tensor:
        return self.pixels


def unit_activation(act: torch.Tensor, units: torch.Tensor, objective: str) -> torch.Tensor:
    """act (U, C, h, w) or (U, F); row i's value for unit units[i]. (U,)"""
    rows = torch.arange(units.shape[0], device=act.device)
    if act.dim() == 4:
        chan = act[rows, units]  # (U, h, w)
        if objective == "neuron":
            return chan[:, chan.shape[1] // 2, chan.shape[2] // 2]
        return chan.mean((1, 2))
    return act.flatten(1)[rows, units]


def activation_maximization(
    model: nn.Module, layer: str, units: torch.Tensor, cfg: ActMaxConfig, seed: int = 0, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Returns (images (U, 3, H, W) in [0, 1], objective reached (U,), mean objective per step)."""
    gen = torch.Generator().manual_seed(seed)
    n_units, r = units.shape[0], max(1, cfg.restarts)
    units = units.repeat(r)  # restart j of unit i is row j * n_units + i
    n = units.shape[0]
    param = (FourierImage if cfg.param == "fft" else PixelImage)(n, cfg.size, gen).to(device)
    opt = torch.optim.Adam(param.parameters(), lr=cfg.lr)
    units = units.to(device)
    trace: list[float] = []
    requires = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with eval_mode(model), LayerCapture(model, layer) as cap:
            for step in range(cfg.steps):
                img = param()
                x = img
                if cfg.jitter:
                    dy, dx = torch.randint(-cfg.jitter, cfg.jitter + 1, (2,), generator=gen).tolist()
                    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
                if cfg.scale or cfg.rotate:
                    x = random_affine(x, cfg.scale, cfg.rotate, gen)
                model(x)  # the hook captures the layer's output
                value = unit_activation(cap.live, units, cfg.objective)
                loss = -value.sum()
                if cfg.l2:
                    loss = loss + cfg.l2 * ((img - 0.5) ** 2).sum((1, 2, 3)).sum()
                if cfg.tv:
                    loss = loss + cfg.tv * total_variation(img).sum() * img[0].numel()
                opt.zero_grad()
                loss.backward()
                opt.step()
                if cfg.param == "pixel":
                    with torch.no_grad():
                        if cfg.blur_every and (step + 1) % cfg.blur_every == 0:
                            param.pixels.copy_(gaussian_blur(param.pixels))
                        param.pixels.clamp_(0, 1)
                trace.append(value.mean().item())
            with torch.no_grad():
                final = param().detach()
                model(final)
                reached = unit_activation(cap.activation, units, cfg.objective)
    finally:
        for p, req in zip(model.parameters(), requires):
            p.requires_grad_(req)
    best = reached.view(r, n_units).argmax(0)  # the restart that reached the most, per unit
    rows = best * n_units + torch.arange(n_units, device=best.device)
    return final[rows], reached[rows], trace
