"""Interventions (ablation, steering) on the tiny model: what they change, what they
leave alone, and that the shared weights are never edited."""

from __future__ import annotations

import pytest
import torch

from inference import (
    Intervention,
    InterventionError,
    Steering,
    steering_vector_from_prompts,
    steering_vector_from_token,
)

IDS = [5, 80, 17, 200, 33, 9, 150, 42]


def snapshot(model):
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


def test_it_makes_an_ablated_mlp_add_nothing_to_the_residual_stream(lm):
    trace = lm.trace(IDS, "all", intervention=Intervention(ablate_mlps={1}))
    after_attention = trace.residuals[1] + trace.attn_out[1]
    torch.testing.assert_close(trace.residuals[2], after_attention)
    assert (trace.mlp_out[1] == 0).all()


def test_it_changes_residuals_from_the_steering_point_on_and_not_before(lm):
    plain = lm.trace(IDS, "residuals").residuals
    vector = torch.randn(lm.config.n_embd)
    steered = lm.trace(
        IDS, "residuals", intervention=Intervention(steering=Steering(vector, 1, 4.0))
    ).residuals
    torch.testing.assert_close(steered[:1], plain[:1])
    torch.testing.assert_close(steered[1], plain[1] + 4.0 * vector)
    assert not torch.allclose(steered[2], plain[2])


def test_it_leaves_positions_before_from_position_unchanged(lm):
    plain = lm.trace(IDS, "residuals").residuals
    steering = Steering(torch.randn(lm.config.n_embd), 0, 3.0, from_position=4)
    steered = lm.trace(IDS, "residuals", intervention=Intervention(steering=steering)).residuals
    torch.testing.assert_close(steered[:, :4], plain[:, :4])
    assert not torch.allclose(steered[:, 4:], plain[:, 4:])


def test_it_builds_a_steering_vector_as_the_difference_of_mean_residuals(lm):
    a, b = IDS[:5], IDS[3:]
    vector = steering_vector_from_prompts(lm.model, a, b, 1)
    mean_a = lm.trace(a, "residuals").residuals[1].mean(dim=0)
    mean_b = lm.trace(b, "residuals").residuals[1].mean(dim=0)
    torch.testing.assert_close(vector, mean_a - mean_b)


def test_it_builds_a_steering_vector_from_a_token_as_its_embedding_row(lm):
    vector = steering_vector_from_token(lm.model, 42)
    assert torch.equal(vector, lm.model.transformer.wte.weight[42].detach())


def test_it_never_edits_the_shared_weights(lm):
    before = snapshot(lm.model)
    vector = steering_vector_from_token(lm.model, 7)
    experiments = [
        Intervention(ablate_heads={(0, 1), (1, 3)}),
        Intervention(ablate_mlps={0}),
        Intervention(steering=Steering(vector, 2, 10.0, from_position=2)),
    ]
    for intervention in experiments:
        lm.trace(IDS, "all", intervention=intervention)
        list(lm.generate(IDS, max_new_tokens=3, temperature=0, intervention=intervention))
    steering_vector_from_prompts(lm.model, IDS, IDS[:2], 1)
    for name, tensor in lm.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def greedy(lm, intervention=None):
    events = lm.generate(
        IDS, max_new_tokens=8, temperature=0, stop_at_end_of_text=False, intervention=intervention
    )
    return [event.token_id for event in events if event.type == "step"]


def test_it_generates_different_greedy_ids_under_a_strong_steering(lm):
    vector = steering_vector_from_token(lm.model, 123)
    steering = Intervention(steering=Steering(vector, lm.config.n_layer, 200.0))
    assert greedy(lm, steering) != greedy(lm)


@pytest.mark.parametrize(
    "intervention",
    [
        Intervention(ablate_heads={(0, 4)}),
        Intervention(ablate_heads={(2, 0)}),
        Intervention(ablate_mlps={2}),
        Intervention(ablate_mlps={-1}),
        Intervention(steering=Steering(torch.zeros(32), 3)),
        Intervention(steering=Steering(torch.zeros(31), 0)),
    ],
)
def test_it_rejects_heads_and_layers_that_do_not_exist(lm, intervention):
    with pytest.raises(InterventionError):
        lm.trace(IDS, intervention=intervention)


def test_it_treats_an_empty_intervention_as_the_plain_model(lm):
    plain = lm.trace(IDS, "all")
    empty = lm.trace(IDS, "all", intervention=Intervention())
    assert torch.equal(empty.logits, plain.logits)
    assert torch.equal(empty.residuals, plain.residuals)
    assert empty.comparison is None
