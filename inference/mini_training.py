"""A tiny GPT trained from scratch in seconds, on one text, for lesson 13's live widget.

The same GPT and the same recipe as inference/train.py (AdamW, warm-up then cosine decay,
gradient clipping, random windows), shrunk until a run fits in a few seconds on one CPU
thread. It reads characters, not the bundled BPE tokens: a short text holds too few BPE
tokens to learn from, a 4096-way softmax would dominate each step, and with characters the
student sees the samples go from noise to letters to words within a minute.

`mini_train` is a generator of events (start, one progress per step, done) and stops
at a step cap, a wall-clock cap, or when `should_stop()` says so; it never imports Django.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from .config import GPTConfig
from .model import GPT
from .train import TrainConfig, evaluate, learning_rate_at, random_batch

BLOCK_SIZE = 64  # characters of context
MIN_TEXT_CHARS = 200
MAX_TEXT_CHARS = 20_000
MIN_STEPS, MAX_STEPS = 20, 1000
MAX_VOCAB = 200  # distinct characters; more means the text is not a prose text
# the shapes a student may choose; "small" is the default
SIZES = {
    "tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32},
    "small": {"n_layer": 2, "n_head": 4, "n_embd": 64},
}
SAMPLE_PROMPT_CHARS = 16
VAL_FRACTION = 0.1  # the end of the text is held back to show over-fitting


class TrainingError(ValueError):
    """A training request that cannot run; the message is a sentence for the student."""


class CharVocabulary:
    """One token per distinct character of the text, in sorted order."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class MiniTrainingConfig:
    """What a student may choose (steps, size, seed) and the server's limits."""

    steps: int = 300
    size: str = "small"
    seed: int = 0
    batch_size: int = 16
    learning_rate: float = 3e-3
    min_learning_rate: float = 3e-4
    warmup_steps: int = 20
    sample_every: int = 25  # steps between samples (and validation losses)
    sample_chars: int = 120
    temperature: float = 0.8
    time_limit_s: float = 30.0

    def check(self) -> None:
        """Raise TrainingError for a value outside the bounds."""
        if not MIN_STEPS <= self.steps <= MAX_STEPS:
            raise TrainingError(f"Steps: choose from {MIN_STEPS} to {MAX_STEPS}.")
        if self.size not in SIZES:
            raise TrainingError(f"Size: choose one of {', '.join(SIZES)}.")
        if self.time_limit_s <= 0:
            raise TrainingError("The time limit must be positive.")


@dataclass
class TrainStart:
    vocab_size: int
    parameters: int
    train_chars: int
    val_chars: int
    model: dict
    sample_prompt: str  # every sample continues this start of the text
    type: str = "start"


@dataclass
class TrainProgress:
    step: int  # 1-based: the number of weight updates done
    loss: float  # the batch's mean cross-entropy before this step's update, nats/char
    elapsed_ms: float
    learning_rate: float
    val_loss: float | None = None
    sample: str | None = None
    type: str = "progress"


@dataclass
class TrainDone:
    finish_reason: str  # finished, cancelled or time_limit
    steps: int
    final_loss: float | None
    val_loss: float | None
    total_ms: float
    losses: list[float] = field(default_factory=list)
    type: str = "done"


def split_text(text: str) -> tuple[str, str]:
    """(training part, held-back end), both long enough for a window of BLOCK_SIZE."""
    cut = len(text) - max(BLOCK_SIZE + 2, int(len(text) * VAL_FRACTION))
    return text[:cut], text[cut:]


def check_text(text: str) -> None:
    if len(text) < MIN_TEXT_CHARS:
        raise TrainingError(
            f"The text has {len(text)} characters; give at least {MIN_TEXT_CHARS} to learn from."
        )
    if len(text) > MAX_TEXT_CHARS:
        raise TrainingError(f"The text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}.")
    distinct = len(set(text))
    if distinct > MAX_VOCAB:
        raise TrainingError(
            f"The text uses {distinct} different characters; at most {MAX_VOCAB} are allowed."
        )


def build_model(vocab_size: int, cfg: MiniTrainingConfig) -> GPT:
    """A freshly initialised GPT of the chosen size (seeded by the caller)."""
    shape = SIZES[cfg.size]
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=BLOCK_SIZE, dropout=0.0, **shape))


@torch.no_grad()
def sample_text(
    model: GPT, vocab: CharVocabulary, start: list[int], cfg: MiniTrainingConfig, seed: int
) -> str:
    """Continue `start` by cfg.sample_chars characters (temperature sampling, seeded)."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    ids = list(start)
    for _ in range(cfg.sample_chars):
        context = torch.tensor([ids[-BLOCK_SIZE:]], dtype=torch.long)
        logits = model(context).logits[0, -1] / cfg.temperature
        probs = torch.softmax(logits, dim=-1)
        ids.append(int(torch.multinomial(probs, 1, generator=generator)))
    model.train(was_training)
    return vocab.decode(ids[len(start) :])


def mini_train(
    text: str,
    cfg: MiniTrainingConfig,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[TrainStart | TrainProgress | TrainDone]:
    """Train a tiny GPT on `text`; yield a start, one progress per step, then a done.

    Raises TrainingError before training starts if the text or settings are out of bounds.
    The first progress comes after a single step, so that a page shows a loss at once.
    """
    check_text(text)
    cfg.check()
    started = time.monotonic()
    deadline = started + cfg.time_limit_s
    torch.manual_seed(cfg.seed)
    vocab = CharVocabulary(text)
    train_part, val_part = split_text(text)
    train_ids = torch.tensor(vocab.encode(train_part), dtype=torch.long)
    val_ids = torch.tensor(vocab.encode(val_part), dtype=torch.long)
    model = build_model(len(vocab), cfg)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.parameters() if p.dim() >= 2], "weight_decay": 0.1},
            {"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=cfg.learning_rate,
        betas=(0.9, 0.95),
    )
    # train.py's schedule, with this run's numbers
    schedule = TrainConfig(
        learning_rate=cfg.learning_rate,
        min_learning_rate=cfg.min_learning_rate,
        warmup_steps=cfg.warmup_steps,
        max_steps=cfg.steps,
    )
    generator = torch.Generator().manual_seed(cfg.seed)
    prompt = train_ids[:SAMPLE_PROMPT_CHARS].tolist()
    yield TrainStart(
        vocab_size=len(vocab),
        parameters=model.num_parameters(),
        train_chars=len(train_part),
        val_chars=len(val_part),
        model={"block_size": BLOCK_SIZE, **SIZES[cfg.size]},
        sample_prompt=vocab.decode(prompt),
    )
    model.train()
    losses: list[float] = []
    val_loss: float | None = None
    finish_reason = "finished"
    for step in range(cfg.steps):
        if should_stop():
            finish_reason = "cancelled"
            break
        if time.monotonic() > deadline:
            finish_reason = "time_limit"
            break
        lr = learning_rate_at(step, schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = random_batch(train_ids, cfg.batch_size, BLOCK_SIZE, generator)
        loss = model(x, targets=y).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        done = step + 1
        sample = None
        this_val = None
        if done % cfg.sample_every == 0 or done == cfg.steps:
            this_val = val_loss = evaluate(model, val_ids, BLOCK_SIZE, len(val_ids), "cpu")
            sample = sample_text(model, vocab, prompt, cfg, cfg.seed + done)
        yield TrainProgress(
            step=done,
            loss=losses[-1],
            elapsed_ms=(time.monotonic() - started) * 1000.0,
            learning_rate=lr,
            val_loss=this_val,
            sample=sample,
        )
    yield TrainDone(
        finish_reason=finish_reason,
        steps=len(losses),
        final_loss=losses[-1] if losses else None,
        val_loss=val_loss,
        total_ms=(time.monotonic() - started) * 1000.0,
        losses=losses,
    )


def uniform_loss(vocab_size: int) -> float:
    """The loss of a model that guesses every character equally: ln(vocab size)."""
    return math.log(vocab_size)
