"""The GPT-2 architecture, with parameter names that match nanoGPT and Hugging Face GPT-2.

A forward pass can, on request, hand back what it computed on the way: the attention
weights of every layer and head for the query positions it ran, and the residual stream
before the first block and after every block. Nothing captured costs nothing: the
fused attention kernel runs unless weights are asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from .config import GPTConfig
from .kv_cache import KVCache


@dataclass
class GPTOutput:
    """What one forward pass returns; capture fields are None unless asked for."""

    logits: torch.Tensor  # (B, T, vocab), or (B, 1, vocab) with last_logits_only
    loss: torch.Tensor | None = None
    attentions: torch.Tensor | None = None  # (n_layer, B, nh, T, S), S = cached + T
    residuals: torch.Tensor | None = None  # (n_layer + 1, B, T, C); [0] is the embedding


def causal_mask(n_new: int, n_past: int, device: torch.device) -> torch.Tensor:
    """Boolean (T, S) mask: query i (at absolute position n_past + i) sees keys 0..n_past + i."""
    return torch.ones(n_new, n_past + n_new, dtype=torch.bool, device=device).tril(diagonal=n_past)


class CausalSelfAttention(nn.Module):
    """Multi-head masked self-attention, fused when the weights are not needed."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        # query, key and value projections for all heads, in one matrix
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout

    def forward(
        self,
        x: torch.Tensor,
        kv_cache: KVCache | None = None,
        layer_index: int = 0,
        capture: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, C = x.size()
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)

        n_past = 0
        if kv_cache is not None:
            n_past = kv_cache.get_pos()
            k, v = kv_cache.store(layer_index, k, v)  # (B, nh, S, hs), S = n_past + T

        attn_weights = None
        if capture:
            # The explicit path, written the way the lesson explains it.
            attn_scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nh, T, S)
            if T > 1:  # a single new query may see every key: nothing to mask
                mask = causal_mask(T, n_past, x.device)
                attn_scores = attn_scores.masked_fill(~mask, float("-inf"))
            # softmax in float32 so that half-precision weights still sum to 1
            attn_weights = F.softmax(attn_scores.float(), dim=-1).to(q.dtype)
            context_vec = self.attn_dropout(attn_weights) @ v  # (B, nh, T, hs)
        else:
            dropout_p = self.dropout if self.training else 0.0
            if n_past == 0:
                context_vec = F.scaled_dot_product_attention(
                    q, k, v, dropout_p=dropout_p, is_causal=T > 1
                )
            elif T == 1:  # one new query may look at every cached key
                context_vec = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
            else:  # several new queries after a cached prefix: is_causal would misalign
                mask = causal_mask(T, n_past, x.device)
                context_vec = F.scaled_dot_product_attention(
                    q, k, v, attn_mask=mask, dropout_p=dropout_p
                )
        y = context_vec.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble heads
        y = self.resid_dropout(self.c_proj(y))
        return y, attn_weights


class MLP(nn.Module):
    """The position-wise feed-forward network: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        # GPT-2 uses the tanh approximation of GELU ("gelu_new" in Hugging Face)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block: pre-LayerNorm attention and MLP, each added to the residual."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        kv_cache: KVCache | None = None,
        layer_index: int = 0,
        capture: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_out, attn_weights = self.attn(self.ln_1(x), kv_cache, layer_index, capture)
        x = x + attn_out
        x = x + self.mlp(self.ln_2(x))
        return x, attn_weights


class GPT(nn.Module):
    """A GPT-2 language model: token + position embeddings, blocks, final norm, tied head."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # weight tying: the output projection is the token embedding read backwards
        self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)
        # GPT-2 scales the residual projections by 1/sqrt(2 * n_layer) at init
        for name, param in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameter count (tied weights counted once); optionally without position embeddings."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel()
        return n

    def forward(
        self,
        idx: torch.Tensor,
        kv_cache: KVCache | None = None,
        targets: torch.Tensor | None = None,
        capture_attention: bool = False,
        capture_residuals: bool = False,
        last_logits_only: bool = False,
    ) -> GPTOutput:
        B, T = idx.size()
        n_past = kv_cache.get_pos() if kv_cache is not None else 0
        if n_past + T > self.config.block_size:
            raise ValueError(
                f"sequence of {n_past + T} tokens is longer than the context "
                f"({self.config.block_size})"
            )
        pos = torch.arange(n_past, n_past + T, dtype=torch.long, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C)
        x = self.transformer.drop(tok_emb + pos_emb)

        residuals = [x] if capture_residuals else None
        attentions = [] if capture_attention else None
        for layer_index, block in enumerate(self.transformer.h):
            x, attn_weights = block(x, kv_cache, layer_index, capture_attention)
            if attentions is not None:
                attentions.append(attn_weights)
            if residuals is not None:
                residuals.append(x)
        if kv_cache is not None:
            kv_cache.advance(T)
        x = self.transformer.ln_f(x)

        loss = None
        if targets is not None:
            logits = self.lm_head(x)
            loss = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-1
            )
        elif last_logits_only:
            logits = self.lm_head(x[:, [-1], :])  # (B, 1, vocab): all that decoding needs
        else:
            logits = self.lm_head(x)
        return GPTOutput(
            logits=logits,
            loss=loss,
            attentions=torch.stack(attentions) if attentions is not None else None,
            residuals=torch.stack(residuals) if residuals is not None else None,
        )
