"""Speed figures for the inference engine, as JSON: `python -m inference.bench`.

    python -m inference.bench [MODEL_DIR ...] [--out FILE] [--threads N] [--quick]

What it measures, on a GPT-2-shaped model of about 5M parameters built here from a fixed
seed (random weights: speed does not depend on what the weights say), and on every model
directory named on the command line:

- prefill: one forward pass over a 64- and a 256-token prompt, into a fresh KV cache;
- decode, per token, at 64 and 256 tokens of context: with the KV cache (one new token
  per forward) and without it (the whole sequence again each step, last logits only),
  each with and without capturing every layer's attention weights;
- the same decode in Hugging Face transformers (when it is installed), with its cache
  and `output_attentions=True`, on a GPT2LMHeadModel holding the same weights, after
  checking that both models give the same logits.

Every figure is the median over repetitions, after warm-up repetitions that are thrown
away, timed with time.perf_counter under torch.inference_mode; variants that are compared
take turns within each repetition, so that machine noise falls on all of them alike.
The output ends with the ratios the engine is judged by and whether each meets its
target. `--quick` runs few repetitions so that a test can call it; its numbers are too
noisy to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .capture import CaptureSpec
from .checkpoint import HF_TRANSPOSED, CheckpointError, load_model
from .config import GPTConfig
from .kv_cache import KVCache
from .model import GPT

# ~5M parameters in GPT-2's proportions; small enough that the whole run fits in a couple
# of minutes on two cores, large enough that matrix multiplies are not all overhead.
BENCH_CONFIG = GPTConfig(vocab_size=4096, block_size=512, n_layer=5, n_head=4, n_embd=256)
SEED = 1234
PROMPT_LENGTHS = (64, 256)
CONTEXTS = (64, 256)
ATTENTION_ONLY = CaptureSpec.of("attention")
LOGITS_TOLERANCE = 1e-4  # float32 on both sides; the kernels differ, not the arithmetic


@dataclass(frozen=True)
class Plan:
    """How much to repeat: `decode_steps` tokens per repetition, median over `reps`."""

    warmup: int
    reps: int
    decode_steps: int


FULL = Plan(warmup=2, reps=9, decode_steps=24)
QUICK = Plan(warmup=1, reps=2, decode_steps=2)

TARGETS = {
    "cache_speedup_256": (">=", 5.0),
    "capture_cost": ("<=", 1.5),
    "full_trace_cost_256": ("<=", 3.0),
    "vs_transformers": (">=", 1.0),
}

NOTES = [
    "Times are milliseconds, medians over the repetitions; decode figures are per token.",
    "Variants that are compared with each other take turns within every repetition "
    "(all cached decodes of a context together, ours and transformers'), so that a slow "
    "spell of the machine does not land on one of them only.",
    "Decode 'at context C': C tokens are already in the KV cache (prefilled, not timed) "
    "and a repetition then decodes decode_steps tokens in a row, at positions C, C+1, ...",
    "recompute: no KV cache; each step runs the whole sequence so far (C+1, C+2, ... "
    "tokens) with last_logits_only=True.",
    "capture: capture=CaptureSpec.of('attention') on every forward, i.e. every layer's and head's "
    "attention weights for the new query positions.",
    "transformers: GPT2LMHeadModel with attn_implementation='eager' (the only one that "
    "returns attentions) and the same weights. Decode is a manual loop of "
    "model(input_ids=<one token>, past_key_values=cache, use_cache=True, "
    "output_attentions=...) rather than model.generate(), because generate() adds "
    "logits processing, stopping checks and output bookkeeping that our cached decode "
    "with capture does not do; the loop times the same work on both sides (vs_transformers). "
    "generate_attentions times model.generate(output_attentions=True, greedy) as the issue "
    "names it: (time for steps+1 new tokens - time for 1) / steps; its ratio is "
    "vs_transformers_generate.",
    "trace_ms: one forward pass over the prompt without a cache; plain captures nothing, "
    "full_capture captures every part of CaptureSpec.everything() (all layers, heads and "
    "positions, the logit lens included); full_trace_cost_256 is their ratio at 256 tokens.",
    "transformers prefill uses logits_to_keep=1, the counterpart of our last_logits_only.",
    "Token ids are random (seeded); the benchmark never samples, so sampling cost is "
    "not included anywhere.",
]


# -- timing --------------------------------------------------------------------------------

# One repetition of one variant: untimed setup (a fresh cache, a prefilled prompt), then
# the timed work; returns the milliseconds it timed, per token for decode.
Timer = Callable[[], float]
Slot = tuple[str, ...]  # where a figure goes in the JSON, e.g. ("engine", "prefill_ms", "capture")


def interleaved_medians(timers: dict[Slot, Timer], plan: Plan) -> dict[Slot, float]:
    """Median milliseconds of every timer over plan.reps, after plan.warmup dropped rounds.

    The timers take turns within each round rather than running one after another, so a
    slow spell of the machine (this one is shared and noisy) lands on every variant alike
    instead of on whichever happened to run then; the ratios depend on that.
    """
    samples: dict[Slot, list[float]] = {slot: [] for slot in timers}
    for round_index in range(plan.warmup + plan.reps):
        for slot, timer in timers.items():
            ms = timer()
            if round_index >= plan.warmup:
                samples[slot].append(ms)
    # four decimals (0.1 microsecond) are far below the run-to-run noise
    return {slot: round(statistics.median(values), 4) for slot, values in samples.items()}


def _elapsed_ms(started: float, units: int = 1) -> float:
    return (time.perf_counter() - started) * 1000 / units


# -- our engine ----------------------------------------------------------------------------


def build_bench_model(config: GPTConfig = BENCH_CONFIG, seed: int = SEED) -> GPT:
    """The synthetic model: the same weights on every run, so runs can be compared."""
    torch.manual_seed(seed)
    return GPT(config).eval()


def random_ids(vocab_size: int, length: int, seed: int = SEED) -> torch.Tensor:
    """A (1, length) batch of token ids from a generator of its own (leaves torch's alone)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (1, length), generator=generator)


def _new_cache(model: GPT) -> KVCache:
    weight = model.lm_head.weight
    # sized like generate() sizes it: the whole context window, preallocated
    return KVCache(model.config, batch_size=1, device=weight.device, dtype=weight.dtype)


def prefill_timer(model: GPT, ids: torch.Tensor, length: int, capture: bool) -> Timer:
    """One forward pass over `length` prompt tokens into an empty cache, as generate() does."""

    def once() -> float:
        cache = _new_cache(model)
        started = time.perf_counter()
        model(
            ids[:, :length],
            kv_cache=cache,
            capture=ATTENTION_ONLY if capture else None,
            last_logits_only=True,
        )
        return _elapsed_ms(started)

    return once


def cached_decode_timer(
    model: GPT, ids: torch.Tensor, context: int, capture: bool, steps: int
) -> Timer:
    """Per token: feed one token at a time with `context` tokens already cached."""

    def once() -> float:
        cache = _new_cache(model)
        model(ids[:, :context], kv_cache=cache, last_logits_only=True)
        started = time.perf_counter()
        for i in range(context, context + steps):
            model(
                ids[:, i : i + 1],
                kv_cache=cache,
                capture=ATTENTION_ONLY if capture else None,
                last_logits_only=True,
            )
        return _elapsed_ms(started, steps)

    return once


def recompute_decode_timer(
    model: GPT, ids: torch.Tensor, context: int, capture: bool, steps: int
) -> Timer:
    """Per token without a cache: every step reruns the whole sequence so far."""

    def once() -> float:
        started = time.perf_counter()
        for i in range(context, context + steps):
            model(
                ids[:, : i + 1], capture=ATTENTION_ONLY if capture else None, last_logits_only=True
            )
        return _elapsed_ms(started, steps)

    return once


def cache_consistency(model: GPT, ids: torch.Tensor, context: int) -> dict[str, Any]:
    """Cached decode must give the logits a full pass gives; a fast wrong cache is no win."""
    cache = _new_cache(model)
    model(ids[:, :context], kv_cache=cache, last_logits_only=True)
    cached = model(ids[:, context : context + 1], kv_cache=cache, last_logits_only=True)
    full = model(ids[:, : context + 1], last_logits_only=True)
    diff = (cached.logits - full.logits).abs().max().item()
    return {"context": context, "max_abs_diff": diff, "allclose": diff <= LOGITS_TOLERANCE}


# -- Hugging Face transformers -------------------------------------------------------------


def _import_transformers():
    try:
        import transformers
    except ImportError:
        return None
    return transformers


def to_transformers(model: GPT, transformers) -> torch.nn.Module:
    """A GPT2LMHeadModel with our weights; Conv1D keeps (in, out), nn.Linear (out, in)."""
    config = model.config
    hf_config = transformers.GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.block_size,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        layer_norm_epsilon=config.layer_norm_epsilon,
        activation_function="gelu_new",  # the tanh GELU our MLP uses
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        # GPT-2's default 50256 lies outside a small vocabulary and only draws warnings
        bos_token_id=None,
        eos_token_id=None,
        attn_implementation="eager",  # sdpa cannot return attention weights
    )
    hf_model = transformers.GPT2LMHeadModel(hf_config)
    state = {
        name: tensor.t() if name.endswith(HF_TRANSPOSED) else tensor
        for name, tensor in model.state_dict().items()
    }
    hf_model.load_state_dict(state, strict=True)
    weight = model.lm_head.weight
    return hf_model.to(device=weight.device, dtype=weight.dtype).eval()


def logits_agreement(model: GPT, hf_model: torch.nn.Module, ids: torch.Tensor) -> dict[str, Any]:
    """Both models on the same tokens: equal logits mean the timings compare like with like."""
    length = min(64, ids.size(1))
    with torch.inference_mode():
        ours = model(ids[:, :length]).logits
        theirs = hf_model(input_ids=ids[:, :length]).logits
    diff = (ours - theirs).abs().max().item()
    return {
        "tokens": length,
        "max_abs_diff": diff,
        "atol": LOGITS_TOLERANCE,
        "allclose": bool(torch.allclose(ours, theirs, atol=LOGITS_TOLERANCE, rtol=1e-4)),
    }


def transformers_model(
    model: GPT, ids: torch.Tensor
) -> tuple[torch.nn.Module | None, dict[str, Any]]:
    """transformers' GPT-2 on our weights, checked, or None and the reason in the report."""
    transformers = _import_transformers()
    if transformers is None:
        return None, {"available": False, "reason": "transformers is not installed"}
    report: dict[str, Any] = {"available": True, "version": transformers.__version__}
    try:
        hf_model = to_transformers(model, transformers)
    except (RuntimeError, ValueError, TypeError) as exc:
        # a transformers version whose GPT-2 no longer takes these names or options
        report.update(available=False, reason=f"cannot build GPT2LMHeadModel: {exc}")
        return None, report
    report["logits_check"] = logits_agreement(model, hf_model, ids)
    if not report["logits_check"]["allclose"]:
        report["reason"] = "logits differ, so timings would not compare the same model"
        return None, report
    return hf_model, report


def hf_prefill_timer(
    hf_model: torch.nn.Module, ids: torch.Tensor, length: int, attentions: bool
) -> Timer:
    def once() -> float:
        started = time.perf_counter()
        hf_model(
            input_ids=ids[:, :length],
            use_cache=True,
            output_attentions=attentions,
            logits_to_keep=1,
        )
        return _elapsed_ms(started)

    return once


def hf_cached_decode_timer(
    hf_model: torch.nn.Module, ids: torch.Tensor, context: int, attentions: bool, steps: int
) -> Timer:
    """transformers' counterpart of cached_decode_timer: one token per call, its own cache."""

    def once() -> float:
        past = hf_model(input_ids=ids[:, :context], use_cache=True).past_key_values
        started = time.perf_counter()
        for i in range(context, context + steps):
            out = hf_model(
                input_ids=ids[:, i : i + 1],
                past_key_values=past,
                use_cache=True,
                output_attentions=attentions,
            )
            past = out.past_key_values
        return _elapsed_ms(started, steps)

    return once


def hf_generate_timer(
    hf_model: torch.nn.Module, ids: torch.Tensor, context: int, steps: int
) -> Timer:
    """transformers' own `generate` with output_attentions, per decoded token.

    generate() also runs the prefill, so the per-token figure is the difference between
    generating steps + 1 tokens and generating 1, divided by steps.
    """

    def run(new_tokens: int) -> float:
        started = time.perf_counter()
        hf_model.generate(
            input_ids=ids[:, :context],
            attention_mask=torch.ones(1, context, dtype=torch.long),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            output_attentions=True,
            return_dict_in_generate=True,
            pad_token_id=0,
        )
        return time.perf_counter() - started

    def once() -> float:
        return max(0.0, run(steps + 1) - run(1)) * 1000 / steps

    return once


# -- which variants run side by side -------------------------------------------------------


def _hf_key(attentions: bool) -> str:
    return "attentions" if attentions else "no_attentions"


def prefill_timers(
    model: GPT, hf_model: torch.nn.Module | None, ids: torch.Tensor, length: int
) -> dict[Slot, Timer]:
    timers = {
        ("engine", "prefill_ms", "no_capture"): prefill_timer(model, ids, length, False),
        ("engine", "prefill_ms", "capture"): prefill_timer(model, ids, length, True),
    }
    if hf_model is not None:
        for attentions in (False, True):
            slot = ("transformers", "prefill_ms", _hf_key(attentions))
            timers[slot] = hf_prefill_timer(hf_model, ids, length, attentions)
    return timers


def cached_timers(
    model: GPT, hf_model: torch.nn.Module | None, ids: torch.Tensor, context: int, steps: int
) -> dict[Slot, Timer]:
    """Every cached decode together: capture_cost and vs_transformers are ratios of these."""
    section = ("engine", "decode_ms_per_token")
    timers = {
        (*section, "cached"): cached_decode_timer(model, ids, context, False, steps),
        (*section, "cached_capture"): cached_decode_timer(model, ids, context, True, steps),
    }
    if hf_model is not None:
        for attentions in (False, True):
            slot = ("transformers", "decode_ms_per_token", f"cached_{_hf_key(attentions)}")
            timers[slot] = hf_cached_decode_timer(hf_model, ids, context, attentions, steps)
        slot = ("transformers", "decode_ms_per_token", "generate_attentions")
        timers[slot] = hf_generate_timer(hf_model, ids, context, steps)
    return timers


def trace_timer(model: GPT, ids: torch.Tensor, length: int, spec: CaptureSpec | None) -> Timer:
    """One forward pass over `length` tokens (no cache), capturing `spec` (None: nothing)."""

    def once() -> float:
        started = time.perf_counter()
        model(ids[:, :length], capture=spec)
        return _elapsed_ms(started)

    return once


def trace_timers(model: GPT, ids: torch.Tensor, length: int) -> dict[Slot, Timer]:
    """A plain forward against one that captures every part of every layer: the trace cost."""
    section = ("engine", "trace_ms")
    return {
        (*section, "plain"): trace_timer(model, ids, length, None),
        (*section, "full_capture"): trace_timer(model, ids, length, CaptureSpec.everything()),
    }


def recompute_timers(model: GPT, ids: torch.Tensor, context: int, steps: int) -> dict[Slot, Timer]:
    section = ("engine", "decode_ms_per_token")
    return {
        (*section, "recompute"): recompute_decode_timer(model, ids, context, False, steps),
        (*section, "recompute_capture"): recompute_decode_timer(model, ids, context, True, steps),
    }


def measure_into(
    report: dict[str, Any], timers: dict[Slot, Timer], length: int, plan: Plan
) -> None:
    """Run the timers side by side and file each median under its slot and `length`."""
    for slot, ms in interleaved_medians(timers, plan).items():
        node = report
        for key in slot:
            node = node.setdefault(key, {})
        node[str(length)] = ms


# -- putting it together -------------------------------------------------------------------


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def ratios(engine: dict[str, Any], hf: dict[str, Any]) -> dict[str, float | None]:
    """The three numbers the engine is judged by, all at 256 tokens of context."""

    def at_256(figures: dict[str, Any], variant: str) -> float | None:
        return figures.get("decode_ms_per_token", {}).get(variant, {}).get("256")

    ours_capture = at_256(engine, "cached_capture")
    return {
        "cache_speedup_256": _ratio(at_256(engine, "recompute"), at_256(engine, "cached")),
        "capture_cost": _ratio(ours_capture, at_256(engine, "cached")),
        "full_trace_cost_256": _ratio(
            engine.get("trace_ms", {}).get("full_capture", {}).get("256"),
            engine.get("trace_ms", {}).get("plain", {}).get("256"),
        ),
        "vs_transformers": _ratio(at_256(hf, "cached_attentions"), ours_capture),
        # the same through transformers' generate(): its sampling loop adds its own overhead
        "vs_transformers_generate": _ratio(at_256(hf, "generate_attentions"), ours_capture),
    }


def targets(measured: dict[str, float | None]) -> dict[str, Any]:
    """Each goal from the issue, its measured value and whether it is met (None: not measured)."""
    result = {}
    for name, (op, goal) in TARGETS.items():
        value = measured.get(name)
        met = None
        if value is not None:
            met = value >= goal if op == ">=" else value <= goal
        result[name] = {"goal": f"{op} {goal:g}", "value": value, "met": met}
    return result


def bench_model(name: str, source: str, model: GPT, plan: Plan) -> dict[str, Any]:
    """Every figure for one model, its transformers comparison and its ratios."""
    model.eval()
    config = model.config
    ids = random_ids(config.vocab_size, config.block_size)
    hf_model, hf_report = transformers_model(model, ids)
    # decode runs positions context .. context + steps - 1, which must fit the window
    contexts = [c for c in CONTEXTS if c + plan.decode_steps <= config.block_size]
    report: dict[str, Any] = {"engine": {}, "transformers": hf_report}
    with torch.inference_mode():
        for length in (n for n in PROMPT_LENGTHS if n <= config.block_size):
            measure_into(report, prefill_timers(model, hf_model, ids, length), length, plan)
            measure_into(report, trace_timers(model, ids, length), length, plan)
        for context in contexts:
            steps = plan.decode_steps
            measure_into(report, cached_timers(model, hf_model, ids, context, steps), context, plan)
            measure_into(report, recompute_timers(model, ids, context, steps), context, plan)
        if contexts:
            report["engine"]["cache_check"] = cache_consistency(model, ids, contexts[-1])
    return {
        "name": name,
        "source": source,
        "parameters": model.num_parameters(),
        "config": config.to_dict(),
        "dtype": str(model.lm_head.weight.dtype).removeprefix("torch."),
        **report["engine"],
        "transformers": hf_report,
        "ratios": ratios(report["engine"], hf_report),
    }


def environment(threads: int) -> dict[str, Any]:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "torch": torch.__version__,
        "transformers": getattr(_import_transformers(), "__version__", None),
        "threads": threads,
        "torch_num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity) if affinity is not None else None,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": platform.python_version(),
    }


def run(model_dirs: list[str], threads: int = 1, quick: bool = False) -> dict[str, Any]:
    """The whole benchmark as a JSON-ready dict; torch's thread count is restored after."""
    plan = QUICK if quick else FULL
    # load every directory first, so that a bad path fails before minutes of timing
    loaded = [(Path(path).name, str(path), load_model(path).model) for path in model_dirs]
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        env = environment(threads)
        models = [bench_model("bench-5m", f"built in, seed {SEED}", build_bench_model(), plan)]
        models += [bench_model(name, source, model, plan) for name, source, model in loaded]
    finally:
        torch.set_num_threads(previous_threads)
    headline = models[0]["ratios"]  # the fixed synthetic model, comparable between runs
    return {
        "benchmark": "inference.bench",
        "environment": env,
        "settings": {
            "quick": quick,
            "warmup": plan.warmup,
            "reps": plan.reps,
            "decode_steps": plan.decode_steps,
            "prompt_lengths": list(PROMPT_LENGTHS),
            "contexts": list(CONTEXTS),
            "seed": SEED,
        },
        "models": models,
        "wall_s": round(time.perf_counter() - started, 2),
        "notes": NOTES,
        "targets": targets(headline),
        "ratios": headline,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m inference.bench",
        description="Time prefill and decode (cached, recomputed, with and without attention "
        "capture) and compare with Hugging Face transformers; prints JSON.",
    )
    parser.add_argument("model_dirs", nargs="*", metavar="MODEL_DIR", help="also bench these")
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--quick", action="store_true", help="few repetitions, for tests")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads < 1:
        print("error: --threads must be at least 1", file=sys.stderr)
        return 2
    try:
        result = run(args.model_dirs, threads=args.threads, quick=args.quick)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_report(result, args.out)
    return 0


def print_report(result: dict, out: str | Path | None) -> None:
    """A benchmark's JSON on standard output and, with `out`, in that file too."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
