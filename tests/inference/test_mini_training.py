"""Lesson 13's mini training run: it learns, it stops when told, it refuses what it cannot run."""

from __future__ import annotations

import math

import pytest

from inference.mini_training import (
    MAX_STEPS,
    MAX_TEXT_CHARS,
    MIN_STEPS,
    MIN_TEXT_CHARS,
    MiniTrainingConfig,
    TrainingError,
    mini_train,
)

# our own lines, repeated a little so that a tiny model has patterns to find in 60 steps
EXCERPT = (
    "The baker opens her shop before the sun. She sells bread to the miller, "
    "and the miller sells flour to the baker. Every morning the same two people "
    "trade the same two things, and every morning they both say it is a fine day.\n"
) * 8


def run(text=EXCERPT, should_stop=lambda: False, **settings):
    cfg = MiniTrainingConfig(**{"steps": 60, "size": "tiny", "seed": 3, **settings})
    events = list(mini_train(text, cfg, should_stop))
    progress = [e for e in events if e.type == "progress"]
    return events[0], progress, events[-1]


def test_the_loss_falls_on_a_fixed_text_and_seed():
    start, progress, done = run(sample_every=30)
    losses = [p.loss for p in progress]
    assert done.finish_reason == "finished" and done.steps == 60 == len(losses)
    # random weights guess about evenly among the text's characters: ln(vocabulary)
    assert start.vocab_size == len(set(EXCERPT))
    assert losses[0] == pytest.approx(math.log(start.vocab_size), abs=0.3)
    first, last = sum(losses[:5]) / 5, sum(losses[-10:]) / 10
    assert last < first - 0.8
    assert progress[-1].val_loss < math.log(start.vocab_size) - 0.8  # on text it never saw


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    assert [p.loss for p in run(steps=25)[1]] == [p.loss for p in run(steps=25)[1]]
    assert [p.loss for p in run(steps=25)[1]] != [p.loss for p in run(steps=25, seed=4)[1]]


def test_samples_come_every_few_steps_in_the_texts_own_characters():
    start, progress, _ = run(steps=40, sample_every=20, sample_chars=50)
    sampled = [p for p in progress if p.sample is not None]
    assert [p.step for p in sampled] == [20, 40]
    assert all(len(p.sample) == 50 and set(p.sample) <= set(EXCERPT) for p in sampled)
    assert EXCERPT.startswith(start.sample_prompt)


def test_the_stop_flag_ends_the_run_at_the_next_step():
    asked = []

    def stop_after_three() -> bool:
        asked.append(1)
        return len(asked) > 3

    _, progress, done = run(should_stop=stop_after_three)
    assert done.finish_reason == "cancelled"
    assert done.steps == len(progress) == 3
    assert done.final_loss == progress[-1].loss


def test_the_wall_clock_cap_ends_the_run():
    _, progress, done = run(steps=MAX_STEPS, time_limit_s=0.3)
    assert done.finish_reason == "time_limit"
    assert done.steps == len(progress) < MAX_STEPS


@pytest.mark.parametrize(
    "text, settings, words",
    [
        ("short text", {}, f"at least {MIN_TEXT_CHARS}"),
        ("x" * (MAX_TEXT_CHARS + 1), {}, f"limit is {MAX_TEXT_CHARS}"),
        ("".join(map(chr, range(0x4E00, 0x4E00 + 300))), {}, "different characters"),
        (EXCERPT, {"steps": MIN_STEPS - 1}, f"{MIN_STEPS} to {MAX_STEPS}"),
        (EXCERPT, {"steps": MAX_STEPS + 1}, f"{MIN_STEPS} to {MAX_STEPS}"),
        (EXCERPT, {"size": "huge"}, "tiny, small"),
    ],
)
def test_out_of_bounds_requests_are_refused_before_any_step(text, settings, words):
    with pytest.raises(TrainingError, match=words):
        next(mini_train(text, MiniTrainingConfig(**settings)))
