"""The transformer itself: attention paths agree, the KV cache changes nothing, capture is right."""

from __future__ import annotations

import pytest
import torch

from inference import GPT, GPTConfig, KVCache
from inference.capture import CaptureSpec
from inference.config import ConfigError

ATTENTION = CaptureSpec.of("attention")


def random_ids(config: GPTConfig, batch: int, length: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, config.vocab_size, (batch, length), generator=generator)


def test_fused_and_explicit_attention_give_the_same_logits(model, config):
    ids = random_ids(config, batch=3, length=20)
    with torch.no_grad():
        fused = model(ids)
        explicit = model(ids, capture=ATTENTION)
    assert fused.attentions is None
    torch.testing.assert_close(fused.logits, explicit.logits, rtol=1e-5, atol=1e-5)


def test_attention_rows_are_causal_and_sum_to_one(model, config):
    ids = random_ids(config, batch=2, length=12)
    with torch.no_grad():
        attn = model(ids, capture=ATTENTION).attentions
    assert attn.shape == (config.n_layer, 2, config.n_head, 12, 12)
    future = torch.ones(12, 12, dtype=torch.bool).triu(diagonal=1)
    assert torch.all(attn[..., future] == 0)
    torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))
    # the first position can only look at itself
    assert torch.all(attn[..., 0, 0] == 1)


@pytest.mark.parametrize("capture", [False, True])
def test_kv_cache_decoding_matches_recomputing_the_whole_sequence(model, config, capture):
    ids = random_ids(config, batch=2, length=24)
    cache = KVCache(config, batch_size=2)
    with torch.no_grad():
        full = model(ids).logits
        steps = [model(ids[:, :8], kv_cache=cache, capture=ATTENTION if capture else None).logits]
        for t in range(8, 24):
            steps.append(
                model(
                    ids[:, t : t + 1], kv_cache=cache, capture=ATTENTION if capture else None
                ).logits
            )
    assert cache.get_pos() == 24
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


def test_a_chunk_after_a_cached_prefix_is_masked_causally(model, config):
    """Regression guard: is_causal=True would align the mask to the wrong corner here."""
    ids = random_ids(config, batch=1, length=16)
    cache = KVCache(config)
    with torch.no_grad():
        full = model(ids, capture=ATTENTION)
        model(ids[:, :10], kv_cache=cache)
        chunk = model(ids[:, 10:], kv_cache=cache, capture=ATTENTION)
        cache_fused = KVCache(config)
        model(ids[:, :10], kv_cache=cache_fused)
        chunk_fused = model(ids[:, 10:], kv_cache=cache_fused)
    torch.testing.assert_close(chunk.logits, full.logits[:, 10:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunk_fused.logits, full.logits[:, 10:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunk.attentions, full.attentions[..., 10:, :])


def test_decoding_returns_only_the_new_attention_row(model, config):
    ids = random_ids(config, batch=1, length=9)
    cache = KVCache(config)
    with torch.no_grad():
        full = model(ids, capture=ATTENTION).attentions
        model(ids[:, :8], kv_cache=cache)
        step = model(ids[:, 8:], kv_cache=cache, capture=ATTENTION).attentions
    assert step.shape == (config.n_layer, 1, config.n_head, 1, 9)
    torch.testing.assert_close(step[..., 0, :], full[..., 8, :])


def test_greedy_ids_with_the_cache_equal_greedy_ids_without(model, config):
    prompt = random_ids(config, batch=1, length=5)
    with torch.no_grad():
        recomputed = prompt
        for _ in range(30):
            next_id = model(recomputed).logits[:, -1].argmax(-1, keepdim=True)
            recomputed = torch.cat([recomputed, next_id], dim=1)
        cache = KVCache(config)
        cached = prompt
        logits = model(prompt, kv_cache=cache, last_logits_only=True).logits
        for _ in range(30):
            next_id = logits[:, -1].argmax(-1, keepdim=True)
            cached = torch.cat([cached, next_id], dim=1)
            logits = model(next_id, kv_cache=cache).logits
    assert torch.equal(cached, recomputed)


def test_residual_stream_is_captured_before_and_after_every_block(model, config):
    ids = random_ids(config, batch=1, length=7)
    with torch.no_grad():
        out = model(ids, capture=CaptureSpec.of("residuals"))
        embeddings = model.transformer.wte(ids) + model.transformer.wpe(torch.arange(7))
        from_last = model.lm_head(model.transformer.ln_f(out.residuals[-1]))
    assert out.residuals.shape == (config.n_layer + 1, 1, 7, config.n_embd)
    torch.testing.assert_close(out.residuals[0], embeddings)
    torch.testing.assert_close(from_last, out.logits)


def test_last_logits_only_returns_the_final_position(model, config):
    ids = random_ids(config, batch=2, length=6)
    with torch.no_grad():
        full = model(ids).logits
        last = model(ids, last_logits_only=True).logits
    assert last.shape == (2, 1, config.vocab_size)
    torch.testing.assert_close(last[:, 0], full[:, -1])


def test_training_loss_is_cross_entropy_and_has_gradients(model, config):
    ids = random_ids(config, batch=2, length=10)
    model.train()
    out = model(ids[:, :-1], targets=ids[:, 1:])
    expected = torch.nn.functional.cross_entropy(
        out.logits.reshape(-1, config.vocab_size), ids[:, 1:].reshape(-1)
    )
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    assert model.transformer.h[0].attn.c_attn.weight.grad.abs().sum() > 0


def test_lm_head_is_tied_to_the_token_embedding(model):
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()


def test_a_sequence_longer_than_the_context_is_rejected(model, config):
    with pytest.raises(ValueError, match="longer than the context"):
        model(random_ids(config, batch=1, length=config.block_size + 1))
    cache = KVCache(config)
    model(random_ids(config, batch=1, length=config.block_size), kv_cache=cache)
    with pytest.raises(ValueError, match="longer than the context"):
        model(random_ids(config, batch=1, length=1), kv_cache=cache)


def test_half_precision_runs_the_same_code_close_to_float32(model, config):
    ids = random_ids(config, batch=1, length=16)
    with torch.no_grad():
        reference = model(ids, capture=ATTENTION)
        model.to(torch.bfloat16)
        cache = KVCache(config, dtype=torch.bfloat16)
        half = model(ids, kv_cache=cache, capture=ATTENTION)
    assert half.logits.dtype == torch.bfloat16
    torch.testing.assert_close(half.logits.float(), reference.logits, atol=0.1, rtol=0.05)
    torch.testing.assert_close(
        half.attentions.float().sum(-1), torch.ones(half.attentions.shape[:-1]), atol=1e-2, rtol=0
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"n_embd": 30}, "divisible"),
        ({"n_layer": 0}, "n_layer"),
        ({"vocab_size": -5}, "vocab_size"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_an_impossible_config_is_rejected(changes, message):
    values = dict(vocab_size=10, block_size=8, n_layer=1, n_head=4, n_embd=32) | changes
    with pytest.raises(ConfigError, match=message):
        GPTConfig.from_dict(values)


def test_config_from_dict_refuses_unknown_keys():
    with pytest.raises(ConfigError, match="unknown model config keys: n_experts"):
        GPTConfig.from_dict(
            dict(vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=8, n_experts=4)
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_gives_the_same_logits_as_the_cpu(model, config):
    ids = random_ids(config, batch=1, length=16)
    with torch.no_grad():
        cpu = model(ids).logits
        gpu = GPT(config).cuda().eval()
        gpu.load_state_dict(model.state_dict())
        on_gpu = gpu(ids.cuda()).logits.cpu()
    torch.testing.assert_close(on_gpu, cpu, atol=1e-4, rtol=1e-4)
