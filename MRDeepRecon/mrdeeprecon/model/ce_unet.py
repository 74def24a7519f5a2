"""Context-Enhanced U-Net (CE U-Net, seed 001 section 2.3).

A U-Net whose convolutions are modulated by the scan context through a *dynamic modulation
pathway* (DMP): a small MLP turns the context vector (:mod:`mrdeeprecon.model.context_vector`) into
a per-channel scale and shift (FiLM) for every convolution block — encoder, bottleneck and
decoder — so one network can perform the different restoration tasks the context describes
(denoise by a chosen factor, restore a missing k-space band, undo partial Fourier, ...).
A per-channel scale is a 1×1 depthwise convolution kernel computed from the context, which is the
seed's "processed context acting as convolution kernels".

Tensors are ``(batch, channel, y, x)``. The 2D model reads one slice (``in_slices = 1``); the 3D
model reads 7 adjacent slices as channels and writes the middle one. A model with a
``noise_input`` reads one more channel after the slices: the local noise SD of the middle slice, or
its median everywhere (:func:`mrdeeprecon.noise_map.noise_input`), so spatially varying noise
(surface coils, parallel-imaging g-factor) is removed everywhere. The output is the network's
estimate of the clean middle slice: the middle input slice plus the network's correction (global
residual).

Default configuration (``CEUNetConfig()``, 2D): 672,305 parameters; the 3D default
(``in_slices=7``) has 673,169.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..noise_map import NOISE_INPUTS
from . import context_vector

_NEGATIVE_SLOPE = 0.1


@dataclass(frozen=True)
class CEUNetConfig:
    """Architecture of a :class:`CEUNet`.

    Attributes:
        in_slices: input slices (channels): 1 = 2D model, 7 = 3D model (middle slice is the target).
        context_size: length of the context vector.
        base_channels: channels of the full-resolution stage; doubled at each downsampling.
        depth: number of downsamplings (inputs are padded to a multiple of ``2**depth``).
        context_hidden: width of the dynamic modulation pathway's hidden layers.
        noise_input: ``"blind"`` (no noise channel), ``"map"`` or ``"scalar"``: the input carries
            one more channel, the local noise SD map or its median (:mod:`mrdeeprecon.noise_map`).
        block: ``"plain"`` (:class:`ModulatedBlock`) or ``"residual"``
            (:class:`ModulatedResidualBlock`: normalised, with a skip path, so that deeper and
            wider networks train).
    """

    in_slices: int = 1
    context_size: int = context_vector.SIZE
    base_channels: int = 16
    depth: int = 3
    context_hidden: int = 64
    noise_input: str = "blind"
    block: str = "plain"

    @property
    def input_channels(self) -> int:
        """Channels of the network input: the slices, plus the noise map when there is one."""
        return self.in_slices + int(self.noise_input != "blind")

    def __post_init__(self) -> None:
        if self.in_slices < 1 or self.in_slices % 2 == 0:
            raise ValueError(f"in_slices must be odd and >= 1, got {self.in_slices}")
        if min(self.context_size, self.base_channels, self.depth, self.context_hidden) < 1:
            raise ValueError(f"every CEUNetConfig field must be >= 1, got {self}")
        if self.noise_input not in NOISE_INPUTS:
            raise ValueError(f"noise_input must be one of {NOISE_INPUTS}, got {self.noise_input!r}")
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {tuple(BLOCKS)}, got {self.block!r}")


class FiLM(nn.Module):
    """Per-channel ``scale · x + shift`` computed from the context pathway's hidden features.

    Initialised to the identity (scale 1, shift 0): the network starts as a plain U-Net.
    """

    def __init__(self, hidden: int, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden, 2 * channels)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: Tensor, hidden: Tensor) -> Tensor:
        delta_scale, shift = self.linear(hidden).to(x.dtype)[:, :, None, None].chunk(2, dim=1)
        return torch.addcmul(shift, x, 1.0 + delta_scale)


class ModulatedBlock(nn.Module):
    """conv3×3 → LeakyReLU → conv3×3 → FiLM(context) → LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.film = FiLM(hidden, out_channels)

    def forward(self, x: Tensor, hidden: Tensor) -> Tensor:
        x = F.leaky_relu(self.conv1(x), _NEGATIVE_SLOPE, inplace=True)
        return F.leaky_relu(self.film(self.conv2(x), hidden), _NEGATIVE_SLOPE, inplace=True)


class ChannelNorm(nn.Module):
    """Layer normalisation over the channels of each pixel (NAFNet's LayerNorm2d): independent of
    the image size and content elsewhere, so tiles and whole slices are normalised alike."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ModulatedResidualBlock(nn.Module):
    """``skip(x) + β · FiLM(conv3×3(LeakyReLU(conv3×3(norm(skip(x))))))``, β a learnt per-channel
    scale starting at 0, so every block starts as the identity (NAFNet, DRUNet)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int) -> None:
        super().__init__()
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        self.norm = ChannelNorm(out_channels)
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.film = FiLM(hidden, out_channels)
        self.beta = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: Tensor, hidden: Tensor) -> Tensor:
        x = self.skip(x)
        y = F.leaky_relu(self.conv1(self.norm(x)), _NEGATIVE_SLOPE)
        return x + self.beta.to(x.dtype) * self.film(self.conv2(y), hidden)


BLOCKS = {"plain": ModulatedBlock, "residual": ModulatedResidualBlock}


def memory_format_for(device: torch.device) -> torch.memory_format:
    """The layout the network's weights and inputs take on ``device``: channels-last where oneDNN
    (CPU) and cuDNN (CUDA) run convolutions fastest in it, else as they are."""
    return torch.channels_last if device.type in ("cpu", "cuda") else torch.preserve_format


class CEUNet(nn.Module):
    """Context-Enhanced U-Net: ``(B, input_channels, H, W)`` + context ``(B, context_size)`` →
    ``(B, 1, H, W)``.

    Any ``H, W`` is accepted: the input is padded (reflection, replication when too small) to a
    multiple of ``2**depth`` and the output cropped back. Downsampling is a strided 2×2
    convolution, upsampling a 2×2 transposed convolution, with skip connections by concatenation.
    """

    def __init__(self, config: CEUNetConfig = CEUNetConfig()) -> None:
        super().__init__()
        self.config = config
        hidden = config.context_hidden
        channels = [config.base_channels * 2**level for level in range(config.depth + 1)]
        self.context_pathway = nn.Sequential(
            nn.Linear(config.context_size, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
        )
        block = BLOCKS[config.block]
        self.stem = block(config.input_channels, channels[0], hidden)
        self.down = nn.ModuleList(
            nn.Conv2d(channels[level], channels[level + 1], 2, stride=2)
            for level in range(config.depth)
        )
        # encoder[level] runs after down[level]; the last one is the bottleneck.
        self.encoder = nn.ModuleList(
            block(channels[level + 1], channels[level + 1], hidden)
            for level in range(config.depth)
        )
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(channels[level + 1], channels[level], 2, stride=2)
            for level in range(config.depth)
        )
        self.decoder = nn.ModuleList(
            block(2 * channels[level], channels[level], hidden)
            for level in range(config.depth)
        )
        self.head = nn.Conv2d(channels[0], 1, 1)

    def parameter_count(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _pad(self, x: Tensor) -> Tensor:
        multiple = 2**self.config.depth
        height, width = x.shape[-2:]
        pad_y, pad_x = (-height) % multiple, (-width) % multiple
        if pad_y == 0 and pad_x == 0:
            return x
        mode = "reflect" if pad_y < height and pad_x < width else "replicate"
        return F.pad(x, (0, pad_x, 0, pad_y), mode=mode)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.config.input_channels:
            raise ValueError(
                f"expected input (B, {self.config.input_channels}, H, W), got {tuple(x.shape)}"
            )
        if context.shape != (x.shape[0], self.config.context_size):
            raise ValueError(
                f"expected context ({x.shape[0]}, {self.config.context_size}), "
                f"got {tuple(context.shape)}"
            )
        height, width = x.shape[-2:]
        middle = self.config.in_slices // 2
        hidden = self.context_pathway(context)

        features = self.stem(self._pad(x), hidden)
        skips = [features]
        for down, block in zip(self.down, self.encoder):
            features = block(down(features), hidden)
            skips.append(features)
        skips.pop()  # the bottleneck output is `features` itself
        for level in reversed(range(self.config.depth)):
            features = self.up[level](features)
            features = self.decoder[level](torch.cat([features, skips[level]], dim=1), hidden)
        correction = self.head(features)[..., :height, :width]
        return x[:, middle : middle + 1] + correction.to(x.dtype)
