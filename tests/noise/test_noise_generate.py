"""Pattern sampling: exact definitions, shapes, dtypes, determinism, σ's, option errors, devices."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from colormae.errors import UserError
from colormae.noise import COLORS, generate_patterns, sample_patterns
from colormae.noise import generate as gen_module


def reference(color: str, count: int, size: tuple[int, int], seed: int, device: str = "cpu") -> np.ndarray:
    """The same random draws as generate_patterns, filtered with scipy (mode='wrap') one image at a time.

    Draw order (documented in colormae.noise.generate): all σ's, then per chunk of b patterns one complex
    white spectrum S of ceil(b / 2) slots; W = Re / Im of the unitary ifft2(S) is pixel-domain N(0, 1).
    """
    h, w = size
    g = torch.Generator(device=device).manual_seed(seed)
    sig = None
    if color in ("red", "blue"):
        sig = (torch.rand(count, generator=g, device=device, dtype=torch.float64) * 1.5 + 0.5).tolist()
    chunk = max(2, 2 * gen_module.CHUNK_PIXELS // (h * w))
    if sig is not None:
        chunk = max(2, chunk // 2)
    white = []
    for start in range(0, count, chunk):
        b = min(chunk, count - start)
        p = (b + 1) // 2
        s = torch.view_as_complex(torch.randn((p, h, w, 2), generator=g, device=device))
        z = torch.fft.ifft2(s.cpu().to(torch.complex128), norm="ortho")
        white += list(torch.cat([z.real, z.imag[: b - p]]).numpy())
    out = []
    for i, x in enumerate(white):
        if color == "red":
            out.append(ndimage.gaussian_filter(x, sig[i], mode="wrap"))
        elif color == "blue":
            out.append(x - ndimage.gaussian_filter(x, sig[i], mode="wrap"))
        else:
            green = ndimage.gaussian_filter(x, 0.5, mode="wrap") - ndimage.gaussian_filter(
                x, 2.0, mode="wrap")
            out.append(green if color == "green" else x - green)
    return np.stack(out)


@pytest.mark.parametrize("color", ["red", "blue", "green", "purple"])
@pytest.mark.parametrize("count", [1, 5])
def test_patterns_are_the_supplement_filters_of_white_noise(color, count):
    got = generate_patterns(color, count, (16, 20), seed=7)
    np.testing.assert_allclose(got.numpy(), reference(color, count, (16, 20), 7), atol=1e-5)


def test_many_chunks_keep_the_definitions(monkeypatch):
    monkeypatch.setattr(gen_module, "CHUNK_PIXELS", 3 * 12 * 12)  # chunks of 6 (green) / 3 (red) patterns
    for color in ("green", "red"):
        got = generate_patterns(color, 11, 12, seed=3)
        np.testing.assert_allclose(got.numpy(), reference(color, 11, (12, 12), 3), atol=1e-5)
        assert len({tuple(p.flatten()[:4].tolist()) for p in got}) == 11  # no repeated pattern


@pytest.mark.parametrize("color", COLORS)
def test_shapes_square_and_rectangular(color):
    assert generate_patterns(color, 3, 8, seed=0).shape == (3, 8, 8)
    assert generate_patterns(color, 2, (5, 9), seed=0).shape == (2, 5, 9)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("color", ["white", "green"])
def test_dtypes(color, dtype):
    p = generate_patterns(color, 4, 16, seed=1, dtype=dtype)
    assert p.dtype == dtype
    if dtype != torch.float64:  # lower precision = the float32 bank rounded
        torch.testing.assert_close(p, generate_patterns(color, 4, 16, seed=1).to(dtype), rtol=0, atol=0)


def test_white_and_uniform_distributions():
    white = generate_patterns("white", 64, 32, seed=0)
    assert abs(white.mean().item()) < 0.01 and abs(white.std().item() - 1) < 0.01
    uniform = generate_patterns("uniform", 64, 32, seed=0)
    assert uniform.min() >= 0 and uniform.max() < 1
    assert abs(uniform.mean().item() - 0.5) < 0.01


@pytest.mark.parametrize("color", COLORS)
def test_same_seed_same_patterns_other_seed_differs(color):
    a = generate_patterns(color, 3, 12, seed=5)
    assert torch.equal(a, generate_patterns(color, 3, 12, seed=5))
    assert not torch.allclose(a, generate_patterns(color, 3, 12, seed=6))


def test_generator_is_the_alternative_to_seed():
    a = generate_patterns("purple", 3, 12, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, generate_patterns("purple", 3, 12, seed=5))
    with pytest.raises(UserError, match="not both"):
        generate_patterns("green", 1, 8, seed=1, generator=torch.Generator())


def test_red_blue_sigmas_drawn_per_pattern_in_range():
    patterns, meta = sample_patterns("red", 200, 24, seed=0)
    sig = meta["sigma"]
    assert sig.shape == (200,) and sig.dtype == torch.float64
    assert 0.5 <= sig.min() and sig.max() <= 2.0
    assert sig.max() - sig.min() > 1.3  # spread over the range, not one value
    assert meta["sigma_range"] == (0.5, 2.0)
    # a smaller σ passes more high frequency: the roughest patterns have the smallest σ's
    roughness = (patterns[:, :, 1:] - patterns[:, :, :-1]).pow(2).mean(dim=(1, 2)) / patterns.var(dim=(1, 2))
    assert np.corrcoef(roughness.numpy(), sig.numpy())[0, 1] < -0.8


def test_sigma_overrides():
    _, meta = sample_patterns("blue", 10, 8, seed=0, sigma=1.25)
    assert torch.all(meta["sigma"] == 1.25) and meta["sigma_range"] == (1.25, 1.25)
    _, meta = sample_patterns("red", 50, 8, seed=0, sigma_range=(1.0, 1.1))
    assert 1.0 <= meta["sigma"].min() and meta["sigma"].max() <= 1.1
    _, meta = sample_patterns("green", 2, 8, seed=0, sigma1=0.7, sigma2=None)
    assert meta == {"sigma1": 0.7, "sigma2": 2.0}
    a = generate_patterns("green", 2, 16, seed=0, sigma1=0.5, sigma2=2.0)
    assert torch.equal(a, generate_patterns("green", 2, 16, seed=0))
    assert not torch.allclose(a, generate_patterns("green", 2, 16, seed=0, sigma2=3.0))


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (("pink", 2, 8), {}, "unknown noise colour 'pink'"),
    (("green", 2, 8), {"sigma": 1.0}, "unknown σ option 'sigma' for green noise"),
    (("red", 2, 8), {"sigma1": 1.0}, "unknown σ option 'sigma1' for red noise"),
    (("white", 2, 8), {"sigma": 1.0}, "accepted: none"),
    (("red", 2, 8), {"sigma": 1.0, "sigma_range": (0.5, 1)}, "not both"),
    (("red", 2, 8), {"sigma": -1.0}, "positive"),
    (("blue", 2, 8), {"sigma_range": (2.0, 1.0)}, "lo <= hi"),
    (("blue", 2, 8), {"sigma_range": 1.0}, "pair"),
    (("green", 2, 8), {"sigma2": "wide"}, "must be a number"),
    (("green", 0, 8), {}, "positive int"),
    (("green", 2, 0), {}, "positive"),
    (("green", 2, (8, 8, 8)), {}, "int or \\(H, W\\)"),
    (("green", 2, 8), {"dtype": torch.int64}, "floating"),
])
def test_bad_options_raise_user_error(args, kwargs, message):
    with pytest.raises(UserError, match=message):
        generate_patterns(*args, **kwargs)


def test_nothing_picks_a_device():
    assert generate_patterns("green", 1, 8, seed=0).device.type == "cpu"
    with pytest.raises(ValueError, match="cannot draw"):
        generate_patterns("green", 1, 8, generator=torch.Generator(), device="meta")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("color", COLORS)
def test_cuda_matches_the_definitions(color):
    got = generate_patterns(color, 5, (24, 20), seed=2, device="cuda")
    assert got.device.type == "cuda"
    assert torch.equal(got, generate_patterns(color, 5, (24, 20), seed=2, device="cuda"))
    if color in ("white", "uniform"):
        g = torch.Generator(device="cuda").manual_seed(2)
        draw = torch.randn if color == "white" else torch.rand
        torch.testing.assert_close(got, draw((5, 24, 20), generator=g, device="cuda"))
    else:
        np.testing.assert_allclose(got.cpu().numpy(), reference(color, 5, (24, 20), 2, "cuda"), atol=1e-5)
