"""The sampler: each filter does what the lesson says it does, and the report adds up."""

from __future__ import annotations

import pytest
import torch

from inference.sampling import SamplingError, SamplingSettings, final_distribution, sample


def logits_from(probs: list[float]) -> torch.Tensor:
    return torch.tensor(probs).log()


def test_temperature_zero_is_argmax():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(3))
    for seed in range(5):
        report = sample(
            logits, SamplingSettings(temperature=0), torch.Generator().manual_seed(seed)
        )
        assert report.token_id == int(logits.argmax())
        assert report.rank == 0
        assert report.prob == 1.0
        assert report.entropy == 0.0


def test_top_k_keeps_exactly_k_tokens_even_with_ties():
    logits = torch.zeros(20)  # twenty tokens tied
    probs = final_distribution(logits, SamplingSettings(top_k=7))
    assert int((probs > 0).sum()) == 7
    torch.testing.assert_close(probs.sum(), torch.tensor(1.0))


def test_top_k_keeps_the_most_likely_tokens():
    logits = torch.tensor([0.1, 3.0, 2.0, -1.0, 2.5])
    probs = final_distribution(logits, SamplingSettings(top_k=2))
    assert set(torch.nonzero(probs).flatten().tolist()) == {1, 4}


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = logits_from([0.5, 0.25, 0.15, 0.1])

    def kept(p):
        probs = final_distribution(logits, SamplingSettings(top_p=p))
        return torch.nonzero(probs).flatten().tolist()

    assert kept(0.5) == [0]  # 0.5 alone reaches 0.5
    assert kept(0.6) == [0, 1]
    assert kept(0.75) == [0, 1]
    assert kept(0.8) == [0, 1, 2]
    assert kept(0.95) == [0, 1, 2, 3]
    assert kept(0.01) == [0]  # never empty


def test_top_p_renormalises_what_it_keeps():
    probs = final_distribution(logits_from([0.5, 0.25, 0.15, 0.1]), SamplingSettings(top_p=0.7))
    torch.testing.assert_close(probs, torch.tensor([2 / 3, 1 / 3, 0.0, 0.0]))


def test_temperature_sharpens_and_flattens():
    logits = logits_from([0.6, 0.3, 0.1])
    cold = final_distribution(logits, SamplingSettings(temperature=0.5))
    hot = final_distribution(logits, SamplingSettings(temperature=2.0))
    assert cold[0] > 0.6 > hot[0]
    torch.testing.assert_close(cold, torch.tensor([0.36, 0.09, 0.01]) / 0.46)


def test_seeded_sampling_repeats_and_different_seeds_differ():
    logits = torch.zeros(1000)

    def draw(seed):
        generator = torch.Generator().manual_seed(seed)
        return [sample(logits, SamplingSettings(), generator).token_id for _ in range(20)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_report_probabilities_sum_to_one_and_agree_with_candidates():
    logits = torch.randn(300, generator=torch.Generator().manual_seed(0))
    settings = SamplingSettings(temperature=0.7, top_k=40, top_p=0.9)
    report = sample(logits, settings, torch.Generator().manual_seed(1), n_candidates=300)
    assert sum(c.raw_prob for c in report.candidates) == pytest.approx(1.0, abs=1e-5)
    assert sum(c.prob for c in report.candidates) == pytest.approx(1.0, abs=1e-5)
    raw = [c.raw_prob for c in report.candidates]
    assert raw == sorted(raw, reverse=True)
    chosen = report.candidates[report.rank]
    assert chosen.token_id == report.token_id
    assert chosen.prob == pytest.approx(report.prob)
    assert report.kept == sum(c.prob > 0 for c in report.candidates) <= 40
    assert 0 < report.entropy < report.raw_entropy


def test_report_lists_the_requested_number_of_candidates():
    report = sample(torch.randn(100), SamplingSettings(), torch.Generator().manual_seed(0), 5)
    assert len(report.candidates) == 5


@pytest.mark.parametrize(
    "settings",
    [
        SamplingSettings(temperature=-0.1),
        SamplingSettings(temperature=100),
        SamplingSettings(top_k=-1),
        SamplingSettings(top_p=0),
        SamplingSettings(top_p=1.5),
        SamplingSettings(top_k=1000),
    ],
)
def test_out_of_range_settings_are_rejected(settings):
    with pytest.raises(SamplingError):
        settings.validate(vocab_size=300)
