"""Every part a trace captures, checked against Hugging Face transformers on the same
weights: hidden states, attention weights and forward hooks on the reference GPT-2 give
the ground truth, in both checkpoint layouts (the Hugging Face folder and our bundle)."""

from __future__ import annotations

import math

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from inference import (  # noqa: E402
    Intervention,
    Tokenizer,
    load_model,
    save_bundle,
)

from .hf_reference import N_HEAD  # noqa: E402

TEXT = "To be, or not to be, that is the question of outrageous fortune"
ATOL = 1e-4


def rank_file_copy(tokenizer: Tokenizer) -> Tokenizer:
    """The same ids as a rank-file tokenizer, which is what a bundle stores."""
    specials = tokenizer.special_tokens
    special_ids = set(specials.values())
    ranks = {tokenizer.token_bytes(i): i for i in tokenizer.known_ids() if i not in special_ids}
    return Tokenizer.from_ranks(ranks, dict(specials))


@pytest.fixture(scope="module", params=["huggingface", "bundle"])
def ours(request, hf_dir, tmp_path_factory):
    lm = load_model(hf_dir)
    if request.param == "bundle":
        path = tmp_path_factory.mktemp("bundle-from-hf") / "bundle"
        save_bundle(path, lm.model, rank_file_copy(lm.tokenizer), card={"name": "from-hf"})
        lm = load_model(path)
        assert lm.source_format == "bundle"
    return lm


@pytest.fixture(scope="module")
def ids(hf_dir):
    return load_model(hf_dir).tokenizer.encode(TEXT)


@pytest.fixture(scope="module")
def reference(hf_model, ids):
    """What transformers computes, per layer, collected with hooks."""
    blocks = hf_model.transformer.h
    C = hf_model.config.n_embd
    hs = C // N_HEAD
    found: dict[str, list] = {}

    def keep(name):
        def hook(module, inputs, output):
            found.setdefault(f"{name}.in", []).append(inputs[0][0].detach().clone())
            out = output[0] if isinstance(output, tuple) else output
            found.setdefault(name, []).append(out[0].detach().clone())

        return hook

    handles = []
    for block in blocks:
        handles.append(block.attn.c_attn.register_forward_hook(keep("c_attn")))
        handles.append(block.ln_1.register_forward_hook(keep("ln_1")))
        handles.append(block.ln_2.register_forward_hook(keep("ln_2")))
        handles.append(block.mlp.c_fc.register_forward_hook(keep("mlp_pre")))
        handles.append(block.mlp.act.register_forward_hook(keep("mlp_post")))
        handles.append(block.attn.register_forward_hook(keep("attn_out")))
        handles.append(block.mlp.register_forward_hook(keep("mlp_out")))
    try:
        with torch.no_grad():
            out = hf_model(torch.tensor([ids]), output_hidden_states=True, output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()

    T = len(ids)

    def heads(t):  # (T, C) -> (H, T, hs)
        return t.view(T, N_HEAD, hs).transpose(0, 1)

    split = [qkv.split(C, dim=-1) for qkv in found["c_attn"]]
    q = [heads(part[0]) for part in split]
    k = [heads(part[1]) for part in split]
    v = [heads(part[2]) for part in split]
    q, k, v = torch.stack(q), torch.stack(k), torch.stack(v)
    ref = {
        "q": q,
        "k": k,
        "v": v,
        "scores": q @ k.transpose(-2, -1) / math.sqrt(hs),
        "attention": torch.stack([a[0] for a in out.attentions]),
        "attn_out": torch.stack(found["attn_out"]),
        "mlp_pre": torch.stack(found["mlp_pre"]),
        "mlp_post": torch.stack(found["mlp_post"]),
        "mlp_out": torch.stack(found["mlp_out"]),
        "logits": out.logits[0],
        "token_embeddings": hf_model.transformer.wte.weight[ids].detach(),
        "position_embeddings": hf_model.transformer.wpe.weight[:T].detach(),
    }
    # hidden_states[-1] has ln_f applied in transformers; the raw last residual is the
    # one before it plus the last block's two contributions
    hidden = list(out.hidden_states[:-1])
    hidden.append(hidden[-1] + ref["attn_out"][-1] + ref["mlp_out"][-1])
    ref["residuals"] = torch.stack([h[0] if h.dim() == 3 else h for h in hidden])
    for norm in ("ln_1", "ln_2"):
        x = torch.stack(found[f"{norm}.in"])
        ref[f"{norm}.mean"] = x.mean(dim=-1)
        ref[f"{norm}.std"] = torch.sqrt(x.var(dim=-1, unbiased=False) + 1e-5)
        ref[f"{norm}.out"] = torch.stack(found[norm])
    return ref


@pytest.fixture(scope="module")
def full(ours, ids):
    return ours.trace(ids, capture="all")


def close(actual, expected):
    torch.testing.assert_close(actual, expected.float(), atol=ATOL, rtol=ATOL)


@pytest.mark.parametrize(
    "part",
    ["token_embeddings", "position_embeddings", "q", "k", "v", "scores", "attention"]
    + ["attn_out", "mlp_pre", "mlp_post", "mlp_out", "logits"],
)
def test_it_captures_each_tensor_as_transformers_computes_it(full, reference, part):
    close(getattr(full, part), reference[part])


def test_it_captures_the_residual_stream_as_transformers_hidden_states(full, reference):
    close(full.residuals, reference["residuals"])


def test_the_last_hidden_state_of_transformers_is_ln_f_of_the_last_residual(
    ours, full, hf_model, ids
):
    with torch.no_grad():
        last = hf_model(torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0]
    with torch.no_grad():
        normed = ours.model.transformer.ln_f(full.residuals[-1].clone())
    close(normed, last)


@pytest.mark.parametrize("norm", ["ln_1", "ln_2"])
def test_it_captures_layer_norm_statistics_and_output(full, reference, norm):
    trace = getattr(full, norm)
    close(trace.mean, reference[f"{norm}.mean"])
    close(trace.std, reference[f"{norm}.std"])
    close(trace.out, reference[f"{norm}.out"])


def test_it_makes_the_last_logit_lens_point_the_softmax_of_the_logits(full):
    probs = torch.softmax(full.logits, dim=-1)
    top_probs, top_ids = probs.topk(full.logit_lens.top_ids.shape[-1], dim=-1)
    assert torch.equal(full.logit_lens.top_ids[-1], top_ids)
    close(full.logit_lens.top_probs[-1], top_probs)
    assert torch.equal(full.logit_lens.target_ids, probs.argmax(dim=-1))
    assert (full.logit_lens.target_ranks[-1] == 0).all()


def test_it_reads_every_logit_lens_rung_as_transformers_ln_f_and_head_would(
    full, reference, hf_model
):
    with torch.no_grad():
        lens_logits = hf_model.lm_head(hf_model.transformer.ln_f(reference["residuals"]))
    probs = torch.softmax(lens_logits.float(), dim=-1)  # (L+1, T, V)
    lens = full.logit_lens
    k = lens.top_ids.shape[-1]
    top_probs, _ = probs.topk(k, dim=-1)
    close(lens.top_probs, top_probs)
    # ids: ties aside, the probabilities at the ids we name are the reference's top-k
    close(probs.gather(-1, lens.top_ids), top_probs)
    target = lens.target_ids.expand(probs.shape[0], -1).unsqueeze(-1)  # (L+1, T, 1)
    target_probs = probs.gather(-1, target)
    close(lens.target_probs, target_probs.squeeze(-1))
    assert torch.equal(lens.target_ranks, (probs > target_probs).sum(dim=-1))


def test_it_makes_head_outputs_add_up_to_the_attention_output(ours, full):
    biases = torch.stack([block.attn.c_proj.bias.detach() for block in ours.model.transformer.h])
    close(full.head_outputs.sum(dim=1) + biases[:, None, :], full.attn_out)


@pytest.mark.parametrize(("layer", "head"), [(0, 1), (2, 3)])
def test_it_ablates_a_head_as_zeroing_its_slice_before_c_proj_in_transformers(
    ours, hf_model, ids, layer, head
):
    hs = hf_model.config.n_embd // N_HEAD

    def zero_head(module, inputs):
        x = inputs[0].clone()
        x[..., head * hs : (head + 1) * hs] = 0
        return (x,)

    handle = hf_model.transformer.h[layer].attn.c_proj.register_forward_pre_hook(zero_head)
    try:
        with torch.no_grad():
            expected = hf_model(torch.tensor([ids])).logits[0]
    finally:
        handle.remove()
    ablated = ours.trace(ids, "logits", intervention=Intervention(ablate_heads={(layer, head)}))
    close(ablated.logits, expected)
    assert not torch.allclose(ablated.logits, ours.trace(ids, "logits").logits, atol=1e-4)


def test_it_returns_exactly_the_selected_slices_of_the_full_capture(ours, full, ids):
    positions = [0, 3, len(ids) - 1]
    part = ours.trace(ids, capture="all", layers=[1], heads=[0, 2], positions=positions)
    assert part.layers == [1] and part.heads == [0, 2] and part.positions == positions
    pos = torch.tensor(positions)
    for name in ("q", "k", "v", "scores", "attention", "head_outputs"):
        expected = getattr(full, name)[[1]][:, [0, 2]].index_select(2, pos)
        close(getattr(part, name), expected)
    for name in ("attn_out", "mlp_pre", "mlp_post", "mlp_out"):
        close(getattr(part, name), getattr(full, name)[[1]].index_select(1, pos))
    for norm in ("ln_1", "ln_2"):
        for stat in ("mean", "std", "out"):
            got = getattr(getattr(part, norm), stat)
            close(got, getattr(getattr(full, norm), stat)[[1]].index_select(1, pos))
    close(part.residuals, full.residuals.index_select(1, pos))
    close(part.logits, full.logits.index_select(0, pos))
    close(part.token_embeddings, full.token_embeddings.index_select(0, pos))
    assert torch.equal(part.logit_lens.top_ids, full.logit_lens.top_ids.index_select(1, pos))
