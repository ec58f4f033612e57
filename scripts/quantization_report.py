"""Print how often int8 and int4 weights keep the bundled model's top next token, and the
mean KL divergence (bits) from the float model, over a fixed set of prompts.

    .venv/bin/python scripts/quantization_report.py [models/shakespeare]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import inference  # noqa: E402

PROMPTS = [
    "To be, or not to be",
    "O Romeo, Romeo, wherefore art",
    "Friends, Romans, countrymen, lend me",
    "Now is the winter of our",
    "All the world's a stage, and all the",
    "What light through yonder window",
    "The quality of mercy is not",
    "If music be the food of love,",
    "Shall I compare thee to a summer's",
    "A horse! a horse! my kingdom for",
    "Good night, good night! Parting is such",
    "Is this a dagger which I see before",
    "Out, damned spot! out, I",
    "Cry havoc, and let slip the dogs of",
    "My lord, the king is coming to the",
    "First Citizen:\nBefore we proceed any further, hear",
    "KING HENRY:\nOnce more unto the breach, dear",
    "Thou art more lovely and more",
    "Speak, my good lord, and tell me what",
    "Et tu, Brute? Then fall,",
]


def report(lm, bits: int) -> tuple[float, float]:
    """(top-1 agreement, mean KL in bits) of the `bits`-bit model against the float one."""
    agree, kl = 0, 0.0
    for prompt in PROMPTS:
        comparison = lm.trace(lm.tokenizer.encode(prompt), "logits", quantize_bits=bits).comparison
        agree += not comparison.top_changed
        kl += comparison.kl_bits
    return agree / len(PROMPTS), kl / len(PROMPTS)


def main(path: str = "models/shakespeare") -> None:
    lm = inference.load_model(path)
    print(f"{len(PROMPTS)} prompts, model {path}")
    for bits in (8, 4):
        agreement, kl = report(lm, bits)
        print(f"int{bits}: top-1 agreement {agreement:.0%}, mean KL {kl:.4f} bits")


if __name__ == "__main__":
    main(*sys.argv[1:])
