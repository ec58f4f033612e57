"""The GPT-2 architecture, with parameter names that match nanoGPT and Hugging Face GPT-2.

A forward pass can, on request, hand back what it computed on the way (a CaptureSpec:
embeddings, q/k/v, scores, attention, each head's output, MLP activations, the residual
stream, the logit lens), and can run a what-if experiment (an Intervention: ablated heads
or MLPs, a steering vector). Nothing captured costs nothing: the fused attention kernel
runs in every layer whose weights nobody asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.nn import functional as F

from .block_topk import block_topk
from .capture import CaptureSpec, Recorder
from .config import GPTConfig
from .interventions import Intervention
from .kv_cache import BatchKVCache, KVCache

# The logit lens unembeds several rungs per multiply, up to this many logits at once
# (128 MB of float32): fast for a small model, bounded for GPT-2 small on 1,024 tokens.
LENS_CHUNK_LOGITS = 1 << 22
LENS_OUTPUTS = ("top_ids", "top_probs", "target_probs", "target_ranks")


@dataclass
class GPTOutput:
    """What one forward pass returns; `captured` holds only what the CaptureSpec asked for."""

    logits: torch.Tensor  # (B, T, vocab), or (B, 1, vocab) with last_logits_only
    loss: torch.Tensor | None = None
    # per-layer parts are (n_layers_captured, B, ...); the others (B, ...); float32 on the CPU
    captured: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def attentions(self) -> torch.Tensor | None:
        """(L, B, nh, T, S), S = cached + T; None unless attention was captured."""
        return self.captured.get("attention")

    @property
    def residuals(self) -> torch.Tensor | None:
        """(n_layer + 1, B, T, C); [0] is the embedding."""
        return self.captured.get("residuals")


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
        recorder: Recorder | None = None,
        intervention: Intervention | None = None,
    ) -> torch.Tensor:
        B, T, C = x.size()
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        if recorder is not None:
            for name, tensor in (("q", q), ("k", k), ("v", v)):
                if recorder.wants(name, layer_index):
                    recorder.put(name, tensor, time_axis=2)

        n_past = 0
        if kv_cache is not None:
            n_past = kv_cache.get_pos()
            k, v = kv_cache.store(layer_index, k, v)  # (B, nh, S, hs), S = n_past + T

        if recorder is not None and recorder.explicit_attention(layer_index):
            # The explicit path, written the way the lesson explains it.
            attn_scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nh, T, S)
            if recorder.wants("scores", layer_index):
                recorder.put("scores", attn_scores, time_axis=2)
            if T > 1:  # a single new query may see every key: nothing to mask
                mask = causal_mask(T, n_past, x.device)
                attn_scores = attn_scores.masked_fill(~mask, float("-inf"))
            # softmax in float32 so that half-precision weights still sum to 1
            attn_weights = F.softmax(attn_scores.float(), dim=-1).to(q.dtype)
            if recorder.wants("attention", layer_index):
                recorder.put("attention", attn_weights, time_axis=2)
            context_vec = self.attn_dropout(attn_weights) @ v  # (B, nh, T, hs)
        else:
            context_vec = self._fused_attention(q, k, v, n_past)

        keep = intervention.head_keep_mask(layer_index, self.n_head) if intervention else None
        if keep is not None:  # ablation: these heads say nothing to c_proj
            context_vec = context_vec * keep.to(context_vec.device, context_vec.dtype).view(
                1, self.n_head, 1, 1
            )
        if recorder is not None and recorder.wants("head_outputs", layer_index):
            recorder.put("head_outputs", self._head_outputs(context_vec), time_axis=2)
        y = context_vec.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble heads
        return self.resid_dropout(self.c_proj(y))

    def _fused_attention(self, q, k, v, n_past: int) -> torch.Tensor:
        T = q.size(2)
        dropout_p = self.dropout if self.training else 0.0
        if n_past == 0:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=T > 1)
        if T == 1:  # one new query may look at every cached key
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        # several new queries after a cached prefix: is_causal would misalign
        mask = causal_mask(T, n_past, q.device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)

    def decode_rows(
        self,
        x: torch.Tensor,
        cache: BatchKVCache,
        layer_index: int,
        attention_rows: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One decode step for B rows of different lengths: (B, 1, C) in and out.

        Every row goes through the fused kernel with its own key mask, whoever else is
        in the batch; the rows in `attention_rows` also get their weights computed the
        explicit way, (n, nh, S) float32, so that asking costs nothing to the others.
        """
        B, T, C = x.size()
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, 1, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        k, v = cache.store(layer_index, k, v)  # (B, nh, S, hs), S = longest row + 1
        mask = cache.key_mask()  # (B, 1, 1, S)
        context_vec = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        weights = None
        if attention_rows is not None:
            scores = (q[attention_rows] @ k[attention_rows].transpose(-2, -1)) / math.sqrt(hs)
            scores = scores.masked_fill(~mask[attention_rows], float("-inf"))
            weights = F.softmax(scores.float(), dim=-1)[:, :, 0]  # (n, nh, S)
        y = context_vec.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y), weights

    def _head_outputs(self, context_vec: torch.Tensor) -> torch.Tensor:
        """(B, nh, T, C): head h's context vector through its own hs columns of c_proj.

        c_proj sees the heads side by side, so its output is the sum of these plus its
        bias: the heads add up to the attention block's output.
        """
        B, nh, T, hs = context_vec.shape
        w = self.c_proj.weight.view(self.n_embd, nh, hs)  # (C, nh, hs)
        return torch.einsum("bnth,cnh->bntc", context_vec, w)


class MLP(nn.Module):
    """The position-wise feed-forward network: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        # GPT-2 uses the tanh approximation of GELU ("gelu_new" in Hugging Face)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, layer_index: int = 0, recorder: Recorder | None = None
    ) -> torch.Tensor:
        pre = self.c_fc(x)  # (B, T, 4C)
        post = self.gelu(pre)
        if recorder is not None:
            if recorder.wants("mlp_pre", layer_index):
                recorder.put("mlp_pre", pre)
            if recorder.wants("mlp_post", layer_index):
                recorder.put("mlp_post", post)
        return self.dropout(self.c_proj(post))


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
        recorder: Recorder | None = None,
        intervention: Intervention | None = None,
    ) -> torch.Tensor:
        h = self._norm("ln_1", x, layer_index, recorder)
        attn_out = self.attn(h, kv_cache, layer_index, recorder, intervention)
        if recorder is not None and recorder.wants("attn_out", layer_index):
            recorder.put("attn_out", attn_out)
        x = x + attn_out

        if intervention is not None and layer_index in intervention.ablate_mlps:
            mlp_out = torch.zeros_like(x)  # ablated: the block adds nothing
            self._norm("ln_2", x, layer_index, recorder)  # still shown, as the lesson draws it
        else:
            h = self._norm("ln_2", x, layer_index, recorder)
            mlp_out = self.mlp(h, layer_index, recorder)
        if recorder is not None and recorder.wants("mlp_out", layer_index):
            recorder.put("mlp_out", mlp_out)
        return x + mlp_out

    def _norm(
        self, part: str, x: torch.Tensor, layer_index: int, recorder: Recorder | None
    ) -> torch.Tensor:
        """ln_1 or ln_2 of x; when captured, with the mean and std it divided by."""
        norm = getattr(self, part)
        if recorder is None or not recorder.wants(part, layer_index):
            return norm(x)
        # the fused kernel hands back the statistics it used: no second pass over x
        out, mean, rstd = torch.native_layer_norm(
            x, norm.normalized_shape, norm.weight, norm.bias, norm.eps
        )
        recorder.put_layer_norm(part, out, mean.squeeze(-1), rstd.reciprocal().squeeze(-1))
        return out


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
        capture: CaptureSpec | None = None,
        intervention: Intervention | None = None,
        last_logits_only: bool = False,
    ) -> GPTOutput:
        B, T = idx.size()
        n_past = kv_cache.get_pos() if kv_cache is not None else 0
        if n_past + T > self.config.block_size:
            raise ValueError(
                f"sequence of {n_past + T} tokens is longer than the context "
                f"({self.config.block_size})"
            )
        recorder = Recorder(capture, self.config) if capture else None
        if intervention is not None and not intervention:
            intervention = None  # an empty experiment is the plain model
        pos = torch.arange(n_past, n_past + T, dtype=torch.long, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C)
        if recorder is not None:
            if recorder.wants("token_embeddings"):
                recorder.put("token_embeddings", tok_emb)
            if recorder.wants("position_embeddings"):
                recorder.put("position_embeddings", pos_emb.unsqueeze(0))
        x = self.transformer.drop(tok_emb + pos_emb)

        # residual point i: 0 = the embeddings, i = after block i
        if intervention is not None:
            x = intervention.steer(x, 0, n_past)
        stream = [x] if recorder is not None and recorder.needs_residuals() else None
        for layer_index, block in enumerate(self.transformer.h):
            x = block(x, kv_cache, layer_index, recorder, intervention)
            if intervention is not None:
                x = intervention.steer(x, layer_index + 1, n_past)
            if stream is not None:
                stream.append(x)
        if kv_cache is not None:
            kv_cache.advance(T)
        if recorder is not None and recorder.wants("residuals"):
            for residual in stream:
                recorder.put("residuals", residual)
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
        if recorder is not None:
            if recorder.wants("logits"):
                recorder.put("logits", logits, time_axis=None if last_logits_only else 1)
            if recorder.wants("logit_lens"):
                # the last rung is the model's own output, when it was computed everywhere
                final = logits if logits.size(1) == T else None
                self._logit_lens(stream, recorder, final)
        captured = recorder.finalize() if recorder is not None else {}
        return GPTOutput(logits=logits, loss=loss, captured=captured)

    def decode_step(
        self,
        idx: torch.Tensor,
        cache: BatchKVCache,
        attention_rows: list[int] | None = None,
        attention_layers: list[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One new token for each row of a batch whose rows have different lengths.

        idx: (B,) the newest token of each of the cache's B rows, which sit at their own
        positions (their own position embedding, their own keys). Returns the logits
        (B, vocab) and, when rows and layers are named, those rows' attention weights
        at those layers (len(layers), len(rows), nh, S) on the device, S = the longest
        row + 1 (a shorter row's weights are 0 past its length). Inference only: no
        dropout, no capture spec, no intervention (generate serves those).
        """
        B = idx.size(0)
        if cache.n_rows != B:
            raise ValueError(f"{B} tokens for a batch of {cache.n_rows} rows")
        pos = cache.positions()  # (B,)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)  # (B, C)
        x = x.unsqueeze(1)  # (B, 1, C)
        rows = None
        if attention_rows and attention_layers:
            rows = torch.tensor(attention_rows, dtype=torch.long, device=idx.device)
        wanted = set(attention_layers or ())
        maps = []
        for layer_index, block in enumerate(self.transformer.h):
            attn_out, weights = block.attn.decode_rows(
                block.ln_1(x), cache, layer_index, rows if layer_index in wanted else None
            )
            x = x + attn_out
            x = x + block.mlp(block.ln_2(x))
            if weights is not None:
                maps.append(weights)
        cache.advance()
        logits = self.lm_head(self.transformer.ln_f(x))[:, 0]  # (B, vocab)
        return logits, torch.stack(maps) if maps else None

    def _logit_lens(
        self, stream: list[torch.Tensor], recorder: Recorder, final_logits: torch.Tensor | None
    ) -> None:
        """What each residual point would predict: ln_f and the unembedding, as top-k.

        Only the kept positions are unembedded, several rungs per matrix multiply, and
        each chunk is reduced to top-k at once, so a large vocabulary never stands in
        memory for every layer together. The followed token is the one the model finally
        predicts at each position, unless the spec names one.
        """
        spec = recorder.spec
        points = torch.stack(stream, dim=1)  # (B, L+1, T, C)
        final = final_logits.unsqueeze(1) if final_logits is not None else None  # (B, 1, T, V)
        if recorder.positions is not None:
            index = torch.tensor(recorder.positions, device=points.device)
            points = points.index_select(2, index)
            final = final.index_select(2, index) if final is not None else None
        B, P, T, _ = points.shape
        rungs_per_chunk = max(1, LENS_CHUNK_LOGITS // (B * T * self.config.vocab_size))

        def chunks():
            """(first rung, logits) from the last rung down: the last one fixes the target."""
            stop = P
            if final is not None:
                yield P - 1, final
                stop = P - 1
            while stop > 0:
                start = max(0, stop - rungs_per_chunk)
                yield start, self.lm_head(self.transformer.ln_f(points[:, start:stop]))
                stop = start

        target = None
        pieces: dict[str, list[torch.Tensor]] = {name: [] for name in LENS_OUTPUTS}
        for start, lens_logits in chunks():
            log_probs = torch.log_softmax(lens_logits.float(), dim=-1)  # (B, n, T, V)
            top_log_probs, top_ids = block_topk(log_probs, spec.lens_top_k)
            pieces["top_ids"].append(top_ids)
            pieces["top_probs"].append(top_log_probs.exp())
            if target is None and spec.lens_token is None:
                target = top_ids[:, -1, :, 0]  # the last rung's top token, (B, T)
                if start == P - 1:  # this chunk is that rung alone: it ranks its own top first
                    pieces["target_probs"].append(pieces["top_probs"][-1][..., 0])
                    pieces["target_ranks"].append(torch.zeros_like(target).unsqueeze(1))
                    continue
            elif target is None:
                target = torch.full((B, T), spec.lens_token, device=points.device)
            index = target[:, None, :, None].expand(-1, log_probs.size(1), -1, 1)
            target_log_prob = log_probs.gather(-1, index)  # (B, n, T, 1)
            pieces["target_probs"].append(target_log_prob.squeeze(-1).exp())
            # counting ones in a float tensor is about twice as fast on a CPU as summing a
            # boolean one (which converts it first); a - b > 0 exactly when a > b, and
            # log_probs is ours to overwrite once top-k and the target are read from it
            ranks = log_probs.sub_(target_log_prob).gt_(0).sum(dim=-1)
            pieces["target_ranks"].append(ranks.long())  # 0 = the top token
        for name, chunk_list in pieces.items():
            # (B, L+1, T, ...) in residual order: 0 = embeddings … L = after the last block
            stacked = torch.cat(chunk_list[::-1], dim=1)
            recorder.put(f"logit_lens.{name}", stacked, time_axis=None)
        recorder.put("logit_lens.target_ids", target, time_axis=None)
