"""The Fourier basis over Z_p: orthonormal, in the paper's row order, norm-preserving."""
import math

import pytest
import torch

from grok import fourier


@pytest.mark.parametrize("p", [3, 5, 23, 31, 113])
def test_basis_orthonormal(p):
    F = fourier.basis(p, torch.float64)
    assert F.shape == (p, p)
    assert torch.allclose(F @ F.T, torch.eye(p, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(F.T @ F, torch.eye(p, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("p", [5, 23, 113])
def test_basis_row_order(p):
    F = fourier.basis(p, torch.float64)
    x = torch.arange(p, dtype=torch.float64)
    assert torch.allclose(F[0], torch.full((p,), 1 / math.sqrt(p), dtype=torch.float64))
    for k in (1, 2, (p - 1) // 2):
        w = 2 * math.pi * k / p
        assert torch.allclose(F[2 * k - 1], torch.cos(w * x) / math.sqrt(p / 2), atol=1e-12)
        assert torch.allclose(F[2 * k], torch.sin(w * x) / math.sqrt(p / 2), atol=1e-12)
    assert F[2].abs().sum() > 0 and F[2][0] == 0  # sin row starts at 0, the cos row at its max


def test_basis_labels():
    assert fourier.basis_labels(7) == ["const", "cos 1", "sin 1", "cos 2", "sin 2", "cos 3", "sin 3"]
    assert len(fourier.basis_labels(113)) == 113 and fourier.basis_labels(113)[83] == "cos 42"
    assert fourier.n_freqs(113) == 56


def test_basis_cache_not_shared():
    F = fourier.basis(11, torch.float64)
    F.zero_()  # a caller scribbling on its copy must not corrupt the cached basis
    assert torch.allclose(fourier.basis(11, torch.float64)[0], torch.full((11,), 11**-0.5, dtype=torch.float64))


def test_transform_parseval_and_known_coefficients():
    p = 23
    g = torch.Generator().manual_seed(0)
    M = torch.randn(p, 5, generator=g, dtype=torch.float64)
    C = fourier.transform(M)
    assert C.shape == (p, 5)
    assert torch.allclose((C**2).sum(0), (M**2).sum(0))
    assert torch.allclose(fourier.basis(p, torch.float64).T @ C, M)  # invertible
    x = torch.arange(p, dtype=torch.float64)
    v = 3 * torch.sin(2 * math.pi * 4 * x / p) + 2.0  # sin 4 and a constant
    c = fourier.transform(v[:, None])[:, 0]
    expect = torch.zeros(p, dtype=torch.float64)
    expect[0] = 2.0 * math.sqrt(p)
    expect[8] = 3 * math.sqrt(p / 2)
    assert torch.allclose(c, expect, atol=1e-10)


def test_transform_2d_parseval_and_terms():
    p = 23
    g = torch.Generator().manual_seed(1)
    A = torch.randn(p, p, 3, generator=g, dtype=torch.float64)
    S = fourier.transform_2d(A)
    assert S.shape == (p, p, 3)
    assert torch.allclose((S**2).sum((0, 1)), (A**2).sum((0, 1)))
    # a 2-D matrix without trailing dims, and the index convention: (basis i of x) * (basis j of y)
    x = torch.arange(p, dtype=torch.float64)
    w = 2 * math.pi * 5 / p
    B = torch.cos(w * x)[:, None] * torch.sin(w * x)[None, :]  # cos 5 (x) * sin 5 (y)
    T = fourier.transform_2d(B)
    assert T.shape == (p, p)
    assert abs(T[9, 10].item() - p / 2) < 1e-9  # norms sqrt(p/2) each
    T[9, 10] = 0
    assert T.abs().max() < 1e-9


def test_freq_norms_known_matrix():
    p = 31
    x = torch.arange(p, dtype=torch.float64)
    w = lambda k: 2 * math.pi * k / p
    M = torch.stack([
        2 * torch.cos(w(3) * x),
        torch.sin(w(3) * x) + 0.5 * torch.cos(w(10) * x + 1.0),
        torch.full((p,), 7.0, dtype=torch.float64),  # constant: not a frequency
    ], 1)  # [p, 3]
    n = fourier.freq_norms(M)
    assert n.shape == (15,)
    r = math.sqrt(p / 2)  # |cos(w x)| over Z_p
    assert abs(n[2].item() - math.sqrt(4 + 1) * r) < 1e-9
    assert abs(n[9].item() - 0.5 * r) < 1e-9  # a phase shift does not change the norm
    others = [i for i in range(15) if i not in (2, 9)]
    assert n[others].abs().max() < 1e-9


def test_sum_directions():
    p = 23
    ks = [2, 5, 11]
    D = fourier.sum_directions(p, ks, torch.float64)
    assert D.shape == (p * p, 6)
    assert torch.allclose(D.T @ D, torch.eye(6, dtype=torch.float64), atol=1e-12)
    assert D.sum(0).abs().max() < 1e-10  # orthogonal to the constant
    x = torch.arange(p, dtype=torch.float64)
    s = (x[:, None] + x[None, :]).reshape(-1)  # pair i = (i // p, i % p)
    for j, k in enumerate(ks):
        cos, sin = torch.cos(2 * math.pi * k * s / p), torch.sin(2 * math.pi * k * s / p)
        assert torch.allclose(D[:, 2 * j], cos / cos.norm(), atol=1e-12)
        assert torch.allclose(D[:, 2 * j + 1], sin / sin.norm(), atol=1e-12)
    # the paper's form: cos(w(x+y)) = (cos_k(x) cos_k(y) - sin_k(x) sin_k(y)) / sqrt(2) in the normalised basis
    F = fourier.basis(p, torch.float64)
    k = 5
    paper = (torch.outer(F[2 * k - 1], F[2 * k - 1]) - torch.outer(F[2 * k], F[2 * k])) / math.sqrt(2)
    assert torch.allclose(D[:, 2], paper.reshape(-1), atol=1e-12)
    assert fourier.sum_directions(p, [], torch.float64).shape == (p * p, 0)
