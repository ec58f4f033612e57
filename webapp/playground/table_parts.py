"""The trace parts read from the model's tables rather than from its forward pass: the
nearest neighbours of each token's embedding, the analogy a − b + c, a 2-D map of the
embeddings, the whole position table and the bigram prediction (docs/protocol.md,
"trace" and "trace_result").

Worker side, like tracing.py, which calls `check_analogy` before the forward pass and
`add_table_parts` while it writes the reply. The embedding space (a unit-length copy of
wte, its principal components) is made once per loaded model and kept on it
(`LanguageModel.embedding_space`), so a request only reads it.
"""

from __future__ import annotations

from typing import Any

from inference import Analogy, EmbeddingSpace, LanguageModel, NeuronExamplesError, Trace

from .protocol import ClientError
from .trace_protocol import encode_tensor

NO_BIGRAM_SENTENCE = "This model ships no bigram table."
# the card's figures a bigram chart sets beside its bars, copied as the card has them
CARD_LOSS_FIGURES = (
    "final_val_loss",
    "bigram_val_loss",
    "bigram_val_perplexity",
    "bigram_smoothing_alpha",
)
ANALOGY_WORDS = ("a", "b", "c")
DECIMALS = 6
MAP_DECIMALS = 5


def check_analogy(lm: LanguageModel, analogy: dict[str, str] | None) -> tuple[int, int, int] | None:
    """The token ids of a, b and c, or a ClientError naming each word that is not
    exactly one token (and how many it is)."""
    if not analogy:
        return None
    ids, problems = [], []
    for name in ANALOGY_WORDS:
        text = analogy[name]
        tokens = lm.tokenizer.encode(text)
        ids.extend(tokens[:1])
        if len(tokens) != 1:
            problem = f"{name} = {text!r} is {len(tokens)} tokens"
            # the usual trap: most words are one token only with the space before them
            if not text.startswith(" ") and len(lm.tokenizer.encode(" " + text)) == 1:
                problem += f" ({' ' + text!r}, with a space in front, is one)"
            problems.append(problem)
    if problems:
        raise ClientError(
            "invalid_setting",
            f"Analogy: {'; '.join(problems)} for this model. "
            "Each of a, b and c must be exactly one token.",
        )
    return ids[0], ids[1], ids[2]


def add_table_parts(
    message: dict[str, Any],
    mentioned: set[int],
    lm: LanguageModel,
    trace: Trace,
    request: dict[str, Any],
    parts: list[str],
    analogy_ids: tuple[int, int, int] | None,
    quantize_bits: int | None,
) -> None:
    """Write the table parts asked for into `message`; note the ids they name."""
    top_k = request["top_k"]
    message.update(neighbours=None, analogy=None, embedding_map=None, bigram=None)
    message["bigram_note"] = None
    kept_ids = [trace.ids[position] for position in trace.positions]
    space = None
    if {"neighbours", "embedding_map"} & set(parts) or analogy_ids:
        # the weights the experiment runs on: rounded ones when quantize_bits is set
        space = lm.embedding_space(quantize_bits)

    neighbour_ids = None
    if "neighbours" in parts:
        ids, cosines = space.neighbours(kept_ids, top_k)
        neighbour_ids = ids.tolist()
        message["neighbours"] = {"ids": neighbour_ids, "cosines": encode_tensor(cosines)}
        mentioned.update(ids.flatten().tolist())
    analogy = None
    if analogy_ids:
        analogy = space.analogy(*analogy_ids, top_k)
        message["analogy"] = analogy_json(lm, analogy)
        mentioned.update(analogy_point_ids(analogy))
    if "embedding_map" in parts:
        message["embedding_map"] = embedding_map_json(space, kept_ids, neighbour_ids, analogy)
    if "position_table" in parts:
        wpe = lm.model_for(quantize_bits).transformer.wpe.weight
        message["tensors"]["position_table"] = encode_tensor(wpe.detach().float().cpu())
    if "bigram" in parts:
        add_bigram(message, mentioned, lm, trace, top_k)
    message.update(neuron_examples=None, neuron_note=None)
    if "neuron_examples" in parts:
        add_neuron_examples(message, mentioned, lm, request.get("neuron"))


def analogy_json(lm: LanguageModel, analogy: Analogy) -> dict[str, Any]:
    def ranked(found: list[tuple[int, float]]) -> list[dict[str, Any]]:
        infos = lm.tokenizer.describe([token_id for token_id, _ in found])
        return [
            {"id": token_id, "text": info.text, "cosine": round(cosine, DECIMALS)}
            for (token_id, cosine), info in zip(found, infos, strict=True)
        ]

    return {
        "a": analogy.a,
        "b": analogy.b,
        "c": analogy.c,
        "with_inputs": ranked(analogy.with_inputs),
        "without_inputs": ranked(analogy.without_inputs),
    }


def analogy_point_ids(analogy: Analogy) -> list[int]:
    """a, b, c, then every result, each once, in that order."""
    ids = [analogy.a, analogy.b, analogy.c]
    ids += [token_id for token_id, _ in analogy.with_inputs + analogy.without_inputs]
    return list(dict.fromkeys(ids))


def embedding_map_json(
    space: EmbeddingSpace,
    kept_ids: list[int],
    neighbour_ids: list[list[int]] | None,
    analogy: Analogy | None,
) -> dict[str, Any]:
    """The tokens on the plane of wte's two principal components; each token once, with
    the first reason it is there (the prompt, then neighbours, then the analogy)."""
    kinds: dict[int, str] = {}
    for token_id in kept_ids:
        kinds.setdefault(token_id, "prompt")
    for row in neighbour_ids or []:
        for token_id in row:
            kinds.setdefault(token_id, "neighbour")
    for token_id in analogy_point_ids(analogy) if analogy else []:
        kinds.setdefault(token_id, "analogy")
    coordinates = space.coordinates(list(kinds)).tolist()
    return {
        "explained": [round(ratio, DECIMALS) for ratio in space.map.explained],
        "points": [
            {"id": token_id, "x": round(x, MAP_DECIMALS), "y": round(y, MAP_DECIMALS), "kind": kind}
            for (token_id, kind), (x, y) in zip(kinds.items(), coordinates, strict=True)
        ],
    }


def add_bigram(
    message: dict[str, Any], mentioned: set[int], lm: LanguageModel, trace: Trace, top_k: int
) -> None:
    """What the shipped bigram table predicts after the last kept token; a sentence
    instead when the model ships none, so the rest of the trace still arrives."""
    table = lm.bigram
    if table is None:
        message["bigram_note"] = NO_BIGRAM_SENTENCE
        return
    position = trace.positions[-1]  # the last kept position, as for logits.last
    token_id = trace.ids[position]
    ids, probs, rest = table.after(token_id, top_k)
    loss = lm.card.get("loss", {})
    message["bigram"] = {
        "position": position,
        "token": token_id,
        "ids": ids,
        "probs": encode_tensor(probs),
        "rest": round(rest, DECIMALS),
        "seen": int(table.row_counts[token_id]),
        "alpha": table.alpha,
        "card": {key: loss[key] for key in CARD_LOSS_FIGURES if key in loss},
    }
    mentioned.update([token_id, *ids])


def check_neuron(lm: LanguageModel, neuron: dict[str, int] | None) -> tuple[int, int]:
    """(layer, index) of the neuron the neuron_examples part asks about, or a ClientError
    saying what is missing or out of range."""
    if not neuron:
        raise ClientError(
            "invalid_setting",
            'The neuron_examples part needs a neuron: {"layer": …, "index": …}.',
        )
    layer, index = neuron["layer"], neuron["index"]
    if layer >= lm.config.n_layer or index >= lm.mlp_width:
        raise ClientError(
            "invalid_setting",
            f"The neuron: this model has layers 0 to {lm.config.n_layer - 1} and neurons "
            f"0 to {lm.mlp_width - 1} in each.",
        )
    return layer, index


def add_neuron_examples(
    message: dict[str, Any], mentioned: set[int], lm: LanguageModel, neuron: dict | None
) -> None:
    """Where one neuron fired hardest in the model's fixed sample of held-out text, with
    the tokens around each place; a sentence instead when the model ships no examples
    file (or one that does not fit it), so the rest of the trace still arrives."""
    layer, index = check_neuron(lm, neuron)
    try:
        examples = lm.neuron_examples()
    except NeuronExamplesError as exc:
        message["neuron_note"] = str(exc)
        return
    found = examples.examples(layer, index)
    message["neuron_examples"] = {
        "layer": layer,
        "index": index,
        "before": examples.before,
        "after": examples.after,
        "sample": examples.metadata.get("sample", ""),
        "examples": found,
    }
    for example in found:
        mentioned.update(example["ids"])
