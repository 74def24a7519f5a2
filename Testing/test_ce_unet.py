"""CE U-Net: shapes, context modulation, global residual, determinism."""

from __future__ import annotations

import pytest
import torch

from mrdeeprecon.model import context_vector
from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig

SMALL = dict(base_channels=4, depth=2, context_hidden=8)


def _randomise_film(model: CEUNet) -> None:
    """Give every FiLM layer non-zero weights (they start at the identity)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".film." in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)


@pytest.mark.parametrize("in_slices", [1, 7])
def test_output_shape_for_odd_sizes(in_slices: int) -> None:
    torch.manual_seed(0)
    model = CEUNet(CEUNetConfig(in_slices=in_slices, **SMALL)).eval()
    x = torch.randn(2, in_slices, 37, 21)
    with torch.no_grad():
        y = model(x, torch.rand(2, context_vector.SIZE))
    assert y.shape == (2, 1, 37, 21)


def test_tiny_input_is_padded_by_replication() -> None:
    model = CEUNet(CEUNetConfig(**SMALL)).eval()
    with torch.no_grad():
        y = model(torch.randn(1, 1, 3, 2), torch.rand(1, context_vector.SIZE))
    assert y.shape == (1, 1, 3, 2)


def test_modulation_starts_at_identity_and_context_changes_the_output() -> None:
    torch.manual_seed(0)
    model = CEUNet(CEUNetConfig(**SMALL)).eval()
    x = torch.randn(1, 1, 32, 32)
    a, b = torch.zeros(1, context_vector.SIZE), torch.ones(1, context_vector.SIZE)
    with torch.no_grad():
        assert torch.equal(model(x, a), model(x, b))  # FiLM initialised to scale 1, shift 0
        _randomise_film(model)
        assert (model(x, a) - model(x, b)).abs().max() > 1e-3


def test_zero_head_gives_the_middle_slice() -> None:
    torch.manual_seed(0)
    model = CEUNet(CEUNetConfig(in_slices=7, **SMALL)).eval()
    _randomise_film(model)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        x = torch.randn(3, 7, 24, 40)
        y = model(x, torch.rand(3, context_vector.SIZE))
    assert torch.equal(y, x[:, 3:4])


def test_deterministic_on_cpu() -> None:
    torch.manual_seed(0)
    model = CEUNet(CEUNetConfig(**SMALL)).eval()
    _randomise_film(model)
    x, c = torch.randn(2, 1, 40, 40), torch.rand(2, context_vector.SIZE)
    with torch.no_grad():
        assert torch.equal(model(x, c), model(x, c))


def test_parameter_count_of_the_default_configs() -> None:
    assert CEUNet(CEUNetConfig()).parameter_count() == 672_305
    assert CEUNet(CEUNetConfig(in_slices=7)).parameter_count() == 673_169


def test_bad_shapes_and_configs_are_rejected() -> None:
    model = CEUNet(CEUNetConfig(**SMALL))
    with pytest.raises(ValueError, match="expected input"):
        model(torch.randn(1, 3, 16, 16), torch.rand(1, context_vector.SIZE))
    with pytest.raises(ValueError, match="expected context"):
        model(torch.randn(2, 1, 16, 16), torch.rand(1, context_vector.SIZE))
    with pytest.raises(ValueError, match="in_slices"):
        CEUNetConfig(in_slices=4)


def test_residual_blocks_start_as_the_identity_path_and_train() -> None:
    """β = 0: each residual block is its skip path, so the network starts as a linear map of its
    input; one optimiser step makes the blocks matter."""
    torch.manual_seed(0)
    model = CEUNet(CEUNetConfig(base_channels=8, depth=4, block="residual", noise_input="map"))
    x, c = torch.randn(2, 2, 48, 48), torch.rand(2, context_vector.SIZE)
    block = model.encoder[0]
    features = torch.randn(2, 16, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(block(features, model.context_pathway(c)), block.skip(features))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.nn.functional.mse_loss(model(x, c), torch.zeros(2, 1, 48, 48)).backward()
    assert block.beta.grad is not None and block.beta.grad.abs().sum() > 0
    optimizer.step()
    with torch.no_grad():
        assert not torch.allclose(block(features, model.context_pathway(c)), block.skip(features))
    with pytest.raises(ValueError, match="block"):
        CEUNetConfig(block="dense")
    with pytest.raises(ValueError, match="noise_input"):
        CEUNetConfig(noise_input="map2")
