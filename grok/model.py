"""The one-layer, no-LayerNorm transformer of Nanda et al., with TransformerLens names.

Parameter names and shapes equal HookedTransformer's (`embed.W_E`, `blocks.0.attn.W_Q`, ...,
plus its `mask` / `IGNORE` buffers), so `HookedTransformer.load_state_dict(sd, strict=True)`
takes our weights as they are.

Two forward paths compute the same logits:
- `run_with_cache(tokens)`: every position through attention, MLP and unembedding, the way
  TransformerLens does it, returning the activations interpretability needs under
  TransformerLens' hook names. Used for analysis and as the benchmark's plain reference.
- `fast_logits(x, y)`: the training path. In a one-layer model only the last position reaches
  the logits, and the last token is always "=", so its residual is a constant vector c.
  Keys, values and scores of positions 0 and 1 depend only on x (resp. y), so they are
  tables of p rows. The MLP input at the last position is then
      c @ W_in + b_in + b_O @ W_in + sum_h sum_j a_hj * (OV_j[tok_j, h] @ W_in)
  and since the "=" weight a_h2 is 1 - a_h0 - a_h1, a constant plus a weighted sum of rows of a
  [2pH, d_mlp] table of number rows (each less its head's "=" row), one `embedding_bag` with
  per-sample weights (the attention pattern; see fast_tables). The direct path resid_mid @ W_U
  is folded into the same table, and the MLP output goes straight to logits through W_L = W_out @ W_U.
  Only relu(pre) @ W_L costs O(batch * d_mlp * p).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .fastbag import BagPlan, bag, make_plan
from .stablemax import softmax_xent


class Embed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))  # [p+1, d]


class PosEmbed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))  # [3, d]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        H, d, dh = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q = nn.Parameter(torch.empty(H, d, dh))
        self.W_K = nn.Parameter(torch.empty(H, d, dh))
        self.W_V = nn.Parameter(torch.empty(H, d, dh))
        self.W_O = nn.Parameter(torch.empty(H, dh, d))
        self.b_Q = nn.Parameter(torch.zeros(H, dh))
        self.b_K = nn.Parameter(torch.zeros(H, dh))
        self.b_V = nn.Parameter(torch.zeros(H, dh))
        self.b_O = nn.Parameter(torch.zeros(d))
        # TransformerLens keeps these as (persistent) buffers; we do too so strict loading works.
        self.register_buffer("mask", torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx)).bool())
        self.register_buffer("IGNORE", torch.tensor(-torch.inf))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn = Attention(cfg)
        self.mlp = MLP(cfg)


class Unembed(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(cfg.d_model, cfg.d_vocab_out))  # [d, p]
        self.b_U = nn.Parameter(torch.zeros(cfg.d_vocab_out))


BUFFER_SUFFIXES = (".mask", ".IGNORE")


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig, seed: int | None = 0):
        super().__init__()
        self.cfg = cfg.validate()
        self.embed = Embed(cfg)
        self.pos_embed = PosEmbed(cfg)
        self.blocks = nn.ModuleList([Block(cfg)])
        self.unembed = Unembed(cfg)
        if seed is not None:
            self.init_weights(seed)

    @torch.no_grad()
    def init_weights(self, seed: int) -> None:
        """The paper's init: every matrix randn / sqrt(d_model), W_U randn / sqrt(p + 1); biases 0."""
        g = torch.Generator().manual_seed(seed)
        d = self.cfg.d_model
        for name, prm in self.named_parameters():
            if ".b_" in name or name.startswith("unembed.b_"):
                prm.zero_()
            else:
                scale = math.sqrt(self.cfg.d_vocab) if name == "unembed.W_U" else math.sqrt(d)
                prm.copy_(torch.randn(prm.shape, generator=g) / scale)

    @property
    def attn(self) -> Attention:
        return self.blocks[0].attn

    @property
    def mlp(self) -> MLP:
        return self.blocks[0].mlp

    def weights(self) -> dict[str, torch.Tensor]:
        """The learned parameters only (no buffers), by TransformerLens name."""
        return dict(self.named_parameters())

    # ------------------------------------------------------------------ full forward
    def run_with_cache(self, tokens: torch.Tensor, cache: bool = True):
        """tokens [B, 3] -> (logits [B, 3, p], cache dict of activations by hook name).

        Straightforward TransformerLens semantics: causal attention over all positions.
        """
        a, m = self.attn, self.mlp
        c: dict[str, torch.Tensor] = {}
        embed = self.embed.W_E[tokens]  # [B, 3, d]
        pos = self.pos_embed.W_pos[None]  # [1, 3, d]
        resid_pre = embed + pos
        q = torch.einsum("bpd,hde->bphe", resid_pre, a.W_Q) + a.b_Q  # [B, 3, H, dh]
        k = torch.einsum("bpd,hde->bphe", resid_pre, a.W_K) + a.b_K
        v = torch.einsum("bpd,hde->bphe", resid_pre, a.W_V) + a.b_V
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(self.cfg.d_head)  # [B, H, 3, 3]
        scores = torch.where(a.mask, scores, a.IGNORE)
        pattern = scores.softmax(dim=-1)
        z = torch.einsum("bhqk,bkhe->bqhe", pattern, v)  # [B, 3, H, dh]
        attn_out = torch.einsum("bqhe,hed->bqd", z, a.W_O) + a.b_O  # [B, 3, d]
        resid_mid = resid_pre + attn_out
        pre = resid_mid @ m.W_in + m.b_in  # [B, 3, d_mlp]
        post = F.relu(pre)
        mlp_out = post @ m.W_out + m.b_out
        resid_post = resid_mid + mlp_out
        logits = resid_post @ self.unembed.W_U + self.unembed.b_U  # [B, 3, p]
        if cache:
            c = {
                "hook_embed": embed,
                "hook_pos_embed": pos.expand_as(embed),
                "blocks.0.hook_resid_pre": resid_pre,
                "blocks.0.attn.hook_q": q,
                "blocks.0.attn.hook_k": k,
                "blocks.0.attn.hook_v": v,
                "blocks.0.attn.hook_attn_scores": scores,
                "blocks.0.attn.hook_pattern": pattern,
                "blocks.0.attn.hook_z": z,
                "blocks.0.hook_attn_out": attn_out,
                "blocks.0.hook_resid_mid": resid_mid,
                "blocks.0.mlp.hook_pre": pre,
                "blocks.0.mlp.hook_post": post,
                "blocks.0.hook_mlp_out": mlp_out,
                "blocks.0.hook_resid_post": resid_post,
            }
        return logits, c

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, 3] -> logits [B, 3, p] (full path)."""
        return self.run_with_cache(tokens, cache=False)[0]

    # ------------------------------------------------------------------ fast forward
    def fast_tables(self):
        """Per-token tables for the fast path (differentiable; rebuilt every step).

        Returns (numbers [2pH, d_mlp + p], const [d_mlp + p], scores [2p + 1, H], W_L [d_mlp, p]):
        the MLP pre-activation and direct logits at the last position are
            const + sum_h w[h, 0] numbers[x H + h] + w[h, 1] numbers[(p + y) H + h]
        with w the attention pattern of the "=" query over (x, y, "="), softmax of the scores
        rows x, p + y and 2p. Because w[h, 2] = 1 - w[h, 0] - w[h, 1], each head's "=" row is
        folded into its number rows (which keep only their difference from it) and the constant.
        """
        cfg, a, m, u = self.cfg, self.attn, self.mlp, self.unembed
        p, H = cfg.p, cfg.n_heads
        W_E, W_pos = self.embed.W_E, self.pos_embed.W_pos
        r01 = torch.cat([W_E[:p] + W_pos[0], W_E[:p] + W_pos[1]], 0)  # [2p, d] residuals of x at 0, y at 1
        r2 = W_E[p] + W_pos[2]  # [d] the "=" at position 2
        q2 = torch.einsum("d,hde->he", r2, a.W_Q) + a.b_Q  # [H, dh]
        scale = 1.0 / math.sqrt(cfg.d_head)
        # score of position j for head h: q2[h] . (r_j @ W_K[h] + b_K[h]); fold q2 into W_K first
        qk = torch.einsum("he,hde->hd", q2, a.W_K) * scale  # [H, d]
        qb = (q2 * a.b_K).sum(-1) * scale  # [H]
        scores = torch.cat([r01, r2[None]], 0) @ qk.T + qb  # [2p + 1, H]
        # OV output of each (token, head) through W_in and W_U, taken per head through the
        # d_head-wide value space: (r @ W_V[h] + b_V[h]) @ (W_O[h] @ W_inU); b_V cancels in the
        # number rows' difference from the "=" row
        W_inU = torch.cat([m.W_in, u.W_U], 1)  # [d, d_mlp + p]
        A = torch.matmul(a.W_O, W_inU)  # [H, dh, d_mlp + p]
        numbers = torch.bmm(torch.matmul(r01 - r2, a.W_V), A)  # [H, 2p, d_mlp + p]
        numbers = numbers.transpose(0, 1).reshape(2 * p * H, -1)  # token-major rows t H + h
        eq = torch.einsum("hk,hkD->D", r2 @ a.W_V + a.b_V, A)  # [d_mlp + p] the "=" rows, summed over heads
        W_L = m.W_out @ u.W_U  # [d_mlp, p]
        const = (r2 + a.b_O) @ W_inU + eq + torch.cat([m.b_in, m.b_out @ u.W_U + u.b_U])  # [d_mlp + p]
        return numbers, const, scores, W_L

    def fast_forward(self, x: torch.Tensor, y: torch.Tensor, plan: BagPlan | None = None):
        """x, y [B] long -> (logits [B, p], mlp pre-activation [B, d_mlp], pattern [B, H, 3]),
        all at the last position and exactly the full path's values.

        `plan` (grok.fastbag.make_plan(x, y, p, H)) holds the batch's index bookkeeping; the
        trainer builds it once, since its batch never changes."""
        cfg = self.cfg
        p, H = cfg.p, cfg.n_heads
        if plan is None or not plan.matches(x, y, p, H):
            plan = make_plan(x, y, p, H)
        numbers, const, s, W_L = self.fast_tables()
        scores = torch.stack([F.embedding(x, s[:p]), F.embedding(y, s[p:2 * p]), s[2 * p].expand(x.shape[0], H)], dim=0)  # [3, B, H]
        w = scores.softmax(0)  # [3, B, H]; a softmax over a leading axis of 3 is ~5x faster than over a trailing one
        pre, direct = bag(numbers, w[:2].permute(1, 2, 0), plan, const).split([cfg.d_mlp, p], 1)  # [B, d_mlp], [B, p]
        logits = torch.addmm(direct, F.relu(pre), W_L)  # [B, p]
        return logits, pre, w.permute(1, 2, 0)  # pattern [B, H, 3]

    def fast_logits(self, x: torch.Tensor, y: torch.Tensor, plan: BagPlan | None = None) -> torch.Tensor:
        """x, y [B] long -> logits [B, p] at the last position (the training path)."""
        return self.fast_forward(x, y, plan)[0]


def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, exact however small the loss (a float32 log-softmax loses it below
    ~1e-7): grok.stablemax.softmax_xent."""
    return softmax_xent(logits, labels)
