"""Train the bundled model: our BPE on the training plays, then a small GPT, into a bundle.

    python -m inference.train --data data/shakespeare --out models/shakespeare

Every choice is a flag with the default that made the shipped model, and everything is
seeded, so the command reproduces it (up to floating-point differences between machines).
The steps: learn a byte-level BPE vocabulary on the training plays; encode both splits;
train with AdamW (linear warm-up, cosine decay, gradient clipping) on random windows of
the training tokens; measure the validation loss now and then on a fixed set of windows;
compare with a bigram baseline; write the bundle with a card that records all of it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .bigram import bigram_baseline, table_for_split
from .bigram_table import TABLE_FILE, save_bigram_table
from .bpe import train_bpe
from .checkpoint import save_bundle
from .config import GPTConfig
from .data import load_split
from .generate import StepEvent, generate
from .model import GPT
from .sampling import SamplingSettings
from .tokenizer import Tokenizer

SAMPLE_PROMPTS = ("ROMEO.\n", "KING.\nWhat news", "First Citizen.\nI say")
SAMPLE_SETTINGS = {"temperature": 0.8, "top_k": 40, "top_p": 1.0, "max_new_tokens": 120}


@dataclass
class TrainConfig:
    """Everything that decides the trained model; saved in its card."""

    data: str = "data/shakespeare"
    out: str = "models/shakespeare"
    vocab_size: int = 4096
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 192
    block_size: int = 256
    dropout: float = 0.1
    batch_size: int = 12
    max_steps: int = 2000
    learning_rate: float = 2e-3
    min_learning_rate: float = 2e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 200
    eval_tokens: int = 65536  # validation tokens scored at each evaluation
    seed: int = 1337
    threads: int = 2
    device: str = "cpu"


def learning_rate_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to the minimum at the last step."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return cfg.min_learning_rate + cosine * (cfg.learning_rate - cfg.min_learning_rate)


def random_batch(
    ids: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of block_size tokens (inputs) and the same shifted by one (targets)."""
    starts = torch.randint(0, len(ids) - block_size - 1, (batch_size,), generator=generator)
    x = torch.stack([ids[s : s + block_size] for s in starts.tolist()])
    y = torch.stack([ids[s + 1 : s + block_size + 1] for s in starts.tolist()])
    return x.long(), y.long()


@torch.no_grad()
def evaluate(model: GPT, ids: torch.Tensor, block_size: int, max_tokens: int, device: str) -> float:
    """Mean loss per token over consecutive windows from the start of `ids`.

    Always the same text, so that evaluations are comparable across steps and runs.
    """
    was_training = model.training
    model.eval()
    total_loss, total_tokens = 0.0, 0
    limit = min(max_tokens, len(ids) - 1)
    for start in range(0, limit, block_size):
        chunk = ids[start : min(start + block_size, limit) + 1].long().to(device)
        if len(chunk) < 2:
            break
        out = model(chunk[None, :-1], targets=chunk[None, 1:])
        total_loss += float(out.loss) * (len(chunk) - 1)
        total_tokens += len(chunk) - 1
    model.train(was_training)
    return total_loss / total_tokens


def encode_split(tokenizer: Tokenizer, text: str) -> torch.Tensor:
    return torch.from_numpy(np.array(tokenizer.encode(text), dtype=np.int32))


def write_samples(model: GPT, tokenizer: Tokenizer, seed: int) -> list[dict]:
    samples = []
    for i, prompt in enumerate(SAMPLE_PROMPTS):
        settings = SamplingSettings(
            temperature=SAMPLE_SETTINGS["temperature"],
            top_k=SAMPLE_SETTINGS["top_k"],
            top_p=SAMPLE_SETTINGS["top_p"],
        )
        steps = [
            event.token_id
            for event in generate(
                model,
                tokenizer,
                tokenizer.encode(prompt),
                max_new_tokens=SAMPLE_SETTINGS["max_new_tokens"],
                settings=settings,
                seed=seed + i,
            )
            if isinstance(event, StepEvent)
        ]
        samples.append(
            {
                "prompt": prompt,
                "settings": dict(SAMPLE_SETTINGS, seed=seed + i),
                "text": prompt + tokenizer.decode(steps),
            }
        )
    return samples


def train(cfg: TrainConfig) -> Path:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    started = time.time()

    train_text = load_split(cfg.data, "train")
    val_text = load_split(cfg.data, "val")
    print(f"training BPE ({cfg.vocab_size} tokens) on {len(train_text):,} characters")
    bpe = train_bpe([train_text], cfg.vocab_size)
    tokenizer = bpe.tokenizer(name=Path(cfg.out).name)
    train_ids = encode_split(tokenizer, train_text)
    val_ids = encode_split(tokenizer, val_text)
    print(f"train {len(train_ids):,} tokens, validation {len(val_ids):,} tokens")

    baseline_loss, baseline_alpha = bigram_baseline(train_ids, val_ids, cfg.vocab_size)
    print(f"bigram baseline: validation loss {baseline_loss:.3f} (alpha {baseline_alpha})")

    model_config = GPTConfig(
        vocab_size=cfg.vocab_size,
        block_size=cfg.block_size,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        dropout=cfg.dropout,
    )
    model = GPT(model_config).to(cfg.device)
    # decay matrices only; biases, LayerNorm gains and nothing else one-dimensional
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.learning_rate,
        betas=(0.9, 0.95),
    )
    generator = torch.Generator().manual_seed(cfg.seed)
    train_curve: list[list[float]] = []
    val_curve: list[list[float]] = []
    smoothed = None
    train_started = time.time()

    model.train()
    # a log file gets a line every 30 s instead of a redraw per step
    interval = 0.1 if sys.stdout.isatty() else 30.0
    progress = tqdm(
        range(cfg.max_steps), desc="training", unit="step", file=sys.stdout, mininterval=interval
    )
    for step in progress:
        lr = learning_rate_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = random_batch(train_ids, cfg.batch_size, cfg.block_size, generator)
        loss = model(x.to(cfg.device), targets=y.to(cfg.device)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()

        value = loss.item()
        smoothed = value if smoothed is None else 0.95 * smoothed + 0.05 * value
        if step % 25 == 0 or step == cfg.max_steps - 1:
            train_curve.append([step, round(smoothed, 4)])
        if step % cfg.eval_interval == 0 or step == cfg.max_steps - 1:
            val_loss = evaluate(model, val_ids, cfg.block_size, cfg.eval_tokens, cfg.device)
            val_curve.append([step, round(val_loss, 4)])
            progress.write(f"step {step}: train {smoothed:.3f}, validation {val_loss:.3f}")
        progress.set_postfix(loss=f"{smoothed:.3f}", lr=f"{lr:.1e}", refresh=False)
    train_seconds = time.time() - train_started

    model.eval()
    final_val = evaluate(model, val_ids, cfg.block_size, len(val_ids), cfg.device)
    print(f"final validation loss (all {len(val_ids):,} tokens): {final_val:.3f}")
    model.cpu()
    card = {
        "name": Path(cfg.out).name,
        "description": "A small GPT-2-style model trained from scratch on Shakespeare's plays.",
        "architecture": "gpt2",
        "parameters": model.num_parameters(),
        "config": model_config.to_dict(),
        "tokenizer": {
            "kind": "byte-level BPE (inference/bpe.py), GPT-2 pre-tokenization",
            "vocab_size": cfg.vocab_size,
            "special_tokens": bpe.special_tokens,
            "chars_per_token_train": round(len(train_text) / len(train_ids), 3),
        },
        "data": json.loads((Path(cfg.data) / "manifest.json").read_text())
        if (Path(cfg.data) / "manifest.json").exists()
        else {"path": cfg.data},
        "train_tokens": len(train_ids),
        "val_tokens": len(val_ids),
        "training": asdict(cfg),
        "tokens_seen": cfg.max_steps * cfg.batch_size * cfg.block_size,
        "epochs": round(cfg.max_steps * cfg.batch_size * cfg.block_size / len(train_ids), 2),
        "train_seconds": round(train_seconds),
        "total_seconds": round(time.time() - started),
        "hardware": {
            "device": cfg.device,
            "torch_threads": cfg.threads,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
        },
        "loss": {
            "final_val_loss": round(final_val, 4),
            "final_val_perplexity": round(math.exp(final_val), 2),
            "bigram_val_loss": round(baseline_loss, 4),
            "bigram_val_perplexity": round(math.exp(baseline_loss), 2),
            "bigram_smoothing_alpha": baseline_alpha,
            "train_curve": train_curve,
            "val_curve": val_curve,
            "units": "mean cross-entropy per token, nats",
        },
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python -m inference.train", *sys.argv[1:]]),
    }
    card["samples"] = write_samples(model, tokenizer, cfg.seed)
    path = save_bundle(cfg.out, model, tokenizer, card)
    # the bigram model the card's baseline measured, cut to what the lessons draw
    table = table_for_split(
        train_ids,
        train_text,
        cfg.vocab_size,
        baseline_alpha,
        card["loss"],
        f"{Path(cfg.data).name}/train.txt",
    )
    save_bigram_table(table, path / TABLE_FILE)
    (path / "README.md").write_text(model_readme(card), encoding="utf-8")
    print(f"wrote {path}")
    return path


def model_readme(card: dict) -> str:
    """A short human-readable page beside the bundle, made from its card."""
    loss, cfg, hw = card["loss"], card["config"], card["hardware"]
    lines = [
        f"# {card['name']}",
        "",
        card["description"],
        "",
        f"- Architecture: GPT-2 ({cfg['n_layer']} layers, {cfg['n_head']} heads, width "
        f"{cfg['n_embd']}, context {cfg['block_size']} tokens), {card['parameters']:,} parameters",
        f"- Tokenizer: {card['tokenizer']['kind']}, {card['tokenizer']['vocab_size']} tokens "
        f"(about {card['tokenizer']['chars_per_token_train']} characters per token)",
        f"- Data: {len(card['data'].get('train_plays', []))} plays for training "
        f"({card['train_tokens']:,} tokens), {len(card['data'].get('val_plays', []))} whole "
        f"plays held out for validation ({card['val_tokens']:,} tokens): "
        f"{', '.join(card['data'].get('val_plays', []))}",
        f"- Training: {card['training']['max_steps']} steps of {card['training']['batch_size']} x "
        f"{cfg['block_size']} tokens, {card['tokens_seen']:,} tokens seen "
        f"({card['epochs']} epochs), {card['train_seconds'] / 60:.1f} minutes on "
        f"{hw['cpu_count']} CPU cores ({hw['processor']}, {hw['torch_threads']} torch threads)",
        f"- Validation loss {loss['final_val_loss']:.3f} nats/token (perplexity "
        f"{loss['final_val_perplexity']}); bigram baseline {loss['bigram_val_loss']:.3f} "
        f"(perplexity {loss['bigram_val_perplexity']})",
        f"- Reproduce: `{card['command']}`",
        "",
        "## Loss curves (nats per token)",
        "",
        "| step | validation |",
        "|---:|---:|",
        *[f"| {step} | {value:.3f} |" for step, value in loss["val_curve"]],
        "",
        "The training curve (smoothed, every 25 steps) is in `card.json` under `loss.train_curve`.",
        "",
        "## Samples (unedited)",
        "",
    ]
    for sample in card["samples"]:
        settings = ", ".join(f"{k} {v}" for k, v in sample["settings"].items())
        lines += [f"Settings: {settings}", "", "```", sample["text"], "```", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog="python -m inference.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = TrainConfig()
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=type(value), default=value, help=f"default {value}")
    return TrainConfig(**vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
