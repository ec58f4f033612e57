"""Command line: `python -m inference generate MODEL_DIR "prompt"` and `inspect MODEL_DIR`."""

from __future__ import annotations

import argparse
import json
import sys

import torch

from .checkpoint import CheckpointError, load_model
from .generate import DoneEvent, GenerationError, StepEvent
from .sampling import SamplingError
from .tokenizer import TokenizerError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="stream a continuation of a prompt")
    gen.add_argument("model_dir")
    gen.add_argument("prompt")
    gen.add_argument("-n", "--max-new-tokens", type=int, default=100)
    gen.add_argument("-t", "--temperature", type=float, default=0.8)
    gen.add_argument("-k", "--top-k", type=int, default=0, help="0 = off")
    gen.add_argument("-p", "--top-p", type=float, default=1.0, help="1 = off")
    gen.add_argument("-s", "--seed", type=int, default=None)
    gen.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    gen.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    gen.add_argument("--stats", action="store_true", help="print timings to stderr at the end")

    ins = commands.add_parser("inspect", help="print the architecture and parameter counts")
    ins.add_argument("model_dir")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def run_generate(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    lm = load_model(args.model_dir, device=args.device)
    ids = lm.tokenizer.encode(args.prompt)
    out = sys.stdout
    out.write(args.prompt)
    out.flush()
    pending = b""  # bytes of a UTF-8 character split across tokens, held until complete
    for event in lm.generate(
        ids,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    ):
        if isinstance(event, StepEvent):
            pending += event.token.bytes
            try:
                text = pending.decode("utf-8")
            except UnicodeDecodeError:
                if len(pending) < 4:
                    continue
                text = pending.decode("utf-8", errors="replace")
            pending = b""
            out.write(text)
            out.flush()
        elif isinstance(event, DoneEvent):
            if pending:
                out.write(pending.decode("utf-8", errors="replace"))
            out.write("\n")
            if args.stats:
                print(
                    f"[{event.new_tokens} tokens, {event.finish_reason}, "
                    f"{event.tokens_per_second:.1f} tokens/s, seed {event.seed}]",
                    file=sys.stderr,
                )
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    lm = load_model(args.model_dir)
    facts = lm.describe()
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    config = facts["config"]
    params = facts["parameters"]
    print(f"{facts['name']} ({facts['format']}, GPT-2 architecture)")
    print(
        f"  layers {config['n_layer']}, heads {config['n_head']}, width {config['n_embd']}, "
        f"context {config['block_size']}, vocabulary {config['vocab_size']}"
    )
    print(f"  tokenizer: {facts['tokenizer']['kind']}, {facts['tokenizer']['n_vocab']} ids")
    print("  parameters:")
    print(f"    token embedding (wte)     {params['token_embedding']:>12,}")
    print(f"    position embedding (wpe)  {params['position_embedding']:>12,}")
    print(f"    per block                 {params['per_block']:>12,}")
    print(f"    {config['n_layer']} blocks{'':<19}{params['blocks']:>12,}")
    print(f"    final layer norm          {params['final_layer_norm']:>12,}")
    print("    lm_head                   tied to wte")
    print(f"    total                     {params['total']:>12,}")
    print(model_outline(lm))
    return 0


def model_outline(lm) -> str:
    return "\n".join("  " + line for line in str(lm.model).splitlines())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            return run_generate(args)
        return run_inspect(args)
    except (CheckpointError, GenerationError, SamplingError, TokenizerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
