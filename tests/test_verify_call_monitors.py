"""Pieces of the call monitors measured directly: the loss factor read off a loss's graph, the leaves a
backward reaches, and that the wrappers leave the program's own results unchanged."""

import weakref

import pytest

torch = pytest.importorskip("torch")

from gradlint.verify import monitors_calls  # noqa: E402


def loss():
    w = torch.randn(3, requires_grad=True)
    return w, (w * 2).sum()


@pytest.mark.parametrize("make, factor", [
    (lambda l: l, 1.0),
    (lambda l: l / 4, 0.25),
    (lambda l: l * 0.5, 0.5),
    (lambda l: (l / 2) / 2, 0.25),
    (lambda l: l / torch.tensor(4.0), 0.25),
])
def test_loss_scale_reads_the_factors_applied_last(make, factor):
    _, l = loss()
    assert monitors_calls._loss_scale(make(l), {}) == pytest.approx(factor)


def test_loss_scale_ignores_a_product_of_two_graphs_and_gradscaler():
    w, l = loss()
    assert monitors_calls._loss_scale(l * w.sum(), {}) == 1.0
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    scaled = scaler.scale(l / 4)
    assert monitors_calls._loss_scale(scaled, {id(scaled): weakref.ref(scaled)}) == pytest.approx(0.25)


def test_leaves_are_the_tensors_a_backward_fills():
    a = torch.randn(2, requires_grad=True)
    b = torch.randn(2, requires_grad=True)
    c = torch.randn(2)
    found = monitors_calls._leaves([(a * b + c).sum()])
    assert sorted(id(t) for t in found) == sorted([id(a), id(b)])
