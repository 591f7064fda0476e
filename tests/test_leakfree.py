"""Leak-free test accuracy: only test pairs whose swap is untrained count."""
import torch

from grok import leakfree
from grok.data import make_dataset


def test_novel_mask_by_hand():
    ds = make_dataset(5, 0.3, 0)
    m = ds.train_mask.reshape(5, 5)
    nm = leakfree.novel_mask(ds).reshape(5, 5)
    for x in range(5):
        for y in range(5):
            assert bool(nm[x, y]) == (not m[x, y] and not m[y, x])
    assert torch.equal(nm, nm.T)  # the set is closed under the swap


def test_novel_accuracy():
    p = 7
    ds = make_dataset(p, 0.4, 1)
    nm = leakfree.novel_mask(ds)
    logits = torch.zeros(p * p, p)
    logits[torch.arange(p * p), ds.labels] = 1.0  # right everywhere ...
    wrong = (~ds.train_mask & ~nm).nonzero().squeeze(1)  # ... except the leaky test pairs
    logits[wrong] = 0.0
    logits[wrong, (ds.labels[wrong] + 1) % p] = 1.0
    r = leakfree.novel_accuracy(logits, ds)
    assert r["n_test_novel"] == int(nm.sum()) > 0
    assert r["test_acc_novel"] == 1.0
    test_acc = (logits.argmax(-1) == ds.labels)[~ds.train_mask].float().mean().item()
    assert test_acc < 1.0  # the leaky pairs pull the plain test accuracy down, not the leak-free one


def test_swap_index_is_an_involution():
    s = leakfree.swap_index(11)
    assert torch.equal(s[s], torch.arange(121))
    assert s[2 * 11 + 5].item() == 5 * 11 + 2


def test_trainer_logs_it():
    from grok.config import ModelConfig
    from grok.model import Transformer
    from grok.train import evaluate

    ds = make_dataset(23, 0.5, 0)
    model = Transformer(ModelConfig(p=23, d_model=32, n_heads=2, d_head=16, d_mlp=64), seed=0)
    row = evaluate(model, ds)
    from grok import measures

    assert row["test_acc_novel"] == leakfree.novel_accuracy(measures.grid_activations(model).logits, ds)["test_acc_novel"]
