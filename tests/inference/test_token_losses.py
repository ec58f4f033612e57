"""token_losses: each token's −ln p under the logits, its rank, and their mean."""

from __future__ import annotations

import math

import pytest
import torch

from inference import token_losses


def test_a_certain_model_has_zero_loss_and_an_even_one_has_log_vocab():
    ids = [0, 1, 2]
    certain = torch.full((3, 4), -1e9)
    certain[0, 1] = certain[1, 2] = 0.0
    assert token_losses(certain, ids).nats == pytest.approx([0.0, 0.0])
    even = token_losses(torch.zeros(3, 4), ids)
    assert even.nats == pytest.approx([math.log(4)] * 2)
    assert even.perplexity == pytest.approx(4.0)


def test_rank_counts_the_tokens_above_the_one_that_came():
    logits = torch.tensor([[3.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    losses = token_losses(logits, [0, 3])
    assert losses.ranks == [3]
    assert losses.top_ids == [0]
    assert losses.probs[0] == pytest.approx(torch.softmax(logits[0], -1)[3].item())


def test_a_single_token_has_nothing_to_predict_and_shapes_must_fit():
    assert token_losses(torch.zeros(1, 5), [2]).nats == []
    with pytest.raises(ValueError):
        token_losses(torch.zeros(2, 5), [1, 2, 3])
