"""The token embeddings as geometry: neighbours, the analogy, the 2-D map, on a tiny
random model whose vocabulary is padded beyond its tokenizer (ids 263 … 298 are no token)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from inference import EmbeddingSpace, EmbeddingSpaceError

from .conftest import EOT_ID


@pytest.fixture
def space(lm):
    return lm.embedding_space()


def known(lm) -> torch.Tensor:
    return torch.tensor(lm.tokenizer.known_ids())


def direct_cosines(lm, vector: torch.Tensor) -> torch.Tensor:
    """cos(vector, E[w]) for every token w the tokenizer knows, by the textbook formula."""
    rows = lm.model.transformer.wte.weight.detach()[known(lm)]
    return rows @ vector / (rows.norm(dim=1) * vector.norm())


def test_neighbours_exclude_the_token_itself_and_come_most_similar_first(lm, space):
    ids = lm.tokenizer.encode("the thing")
    neighbour_ids, cosines = space.neighbours(ids, 7)
    assert neighbour_ids.shape == cosines.shape == (len(ids), 7)
    for token_id, row in zip(ids, neighbour_ids.tolist(), strict=True):
        assert token_id not in row
        assert len(set(row)) == 7
    assert (cosines[:, :-1] >= cosines[:, 1:]).all()


def test_neighbour_cosines_are_the_textbook_cosines(lm, space):
    ids = lm.tokenizer.encode("ing é")
    neighbour_ids, cosines = space.neighbours(ids, 5)
    wte = lm.model.transformer.wte.weight.detach()
    for token_id, row, values in zip(ids, neighbour_ids, cosines, strict=True):
        expected = F.cosine_similarity(wte[token_id][None, :], wte[row], dim=1)
        torch.testing.assert_close(values, expected, atol=1e-5, rtol=1e-5)
        # and they are the best: nothing outside the list beats the last one
        everyone = direct_cosines(lm, wte[token_id])
        others = [i for i in known(lm).tolist() if i != token_id and i not in row.tolist()]
        outside = everyone[[known(lm).tolist().index(i) for i in others]]
        assert float(outside.max()) <= float(values[-1]) + 1e-6


def test_neighbours_are_only_tokens_the_tokenizer_can_decode(lm, space):
    neighbour_ids, _ = space.neighbours(list(range(0, 263, 7)) + [EOT_ID], 50)
    assert set(neighbour_ids.flatten().tolist()) <= set(lm.tokenizer.known_ids())
    with pytest.raises(EmbeddingSpaceError, match="280"):
        space.neighbours([280], 3)  # a padding row is nobody's token


def test_the_analogy_without_inputs_leaves_a_b_and_c_out(lm, space):
    a, b, c = (lm.tokenizer.encode(text)[0] for text in ("k", "m", "w"))
    analogy = space.analogy(a, b, c, 10)
    wte = lm.model.transformer.wte.weight.detach()
    everyone = direct_cosines(lm, wte[a] - wte[b] + wte[c])
    top = everyone.topk(10)
    assert [i for i, _ in analogy.with_inputs] == known(lm)[top.indices].tolist()
    torch.testing.assert_close(
        torch.tensor([v for _, v in analogy.with_inputs]), top.values, atol=1e-5, rtol=1e-5
    )
    without = [i for i, _ in analogy.without_inputs]
    assert not {a, b, c} & set(without) and len(without) == 10
    # the same ranking with the inputs struck out
    assert without[:3] == [i for i, _ in analogy.with_inputs if i not in (a, b, c)][:3]


def test_the_analogy_of_a_word_with_itself_finds_it_first_only_with_inputs(lm, space):
    a = lm.tokenizer.encode("q")[0]
    b = lm.tokenizer.encode("z")[0]
    analogy = space.analogy(a, b, b, 3)  # a − b + b = a: cosine 1 with a itself
    assert analogy.with_inputs[0][0] == a
    assert analogy.with_inputs[0][1] == pytest.approx(1.0, abs=1e-5)
    assert a not in [i for i, _ in analogy.without_inputs]


def test_the_map_is_the_table_s_two_principal_components(lm, space):
    table = lm.model.transformer.wte.weight.detach()[known(lm)].double()
    centred = table - table.mean(dim=0)
    _, singular_values, directions = torch.linalg.svd(centred, full_matrices=False)
    variance = singular_values**2
    ratios = space.map.explained
    assert all(0 < r <= 1 for r in ratios) and ratios[0] >= ratios[1]
    assert ratios == pytest.approx((variance[:2] / variance.sum()).tolist(), rel=1e-9)
    components = space.map.components
    torch.testing.assert_close(components.abs(), directions[:2].abs(), atol=1e-9, rtol=1e-7)
    torch.testing.assert_close(components @ components.T, torch.eye(2, dtype=torch.float64))
    # the sign rule: each direction's largest coordinate is positive
    largest = components.abs().argmax(dim=1)
    assert (components[[0, 1], largest] > 0).all()
    # a token's coordinates are its centred row along the two directions
    ids = lm.tokenizer.encode("the")
    expected = (table[known(lm).tolist().index(ids[0])] - table.mean(dim=0)) @ components.T
    torch.testing.assert_close(space.coordinates(ids)[0], expected)


def test_the_map_is_the_same_on_every_run(lm):
    first = EmbeddingSpace(lm.model.transformer.wte.weight, lm.tokenizer.known_ids()).map
    again = EmbeddingSpace(lm.model.transformer.wte.weight, lm.tokenizer.known_ids()).map
    assert torch.equal(first.components, again.components)
    assert first.explained == again.explained


def test_the_space_never_writes_the_shared_weights(lm, space):
    wte = lm.model.transformer.wte.weight
    before = wte.detach().clone()
    space.neighbours(lm.tokenizer.encode("the"), 5)
    space.analogy(1, 2, 3, 5)
    space.coordinates([4, 5])
    assert torch.equal(wte.detach(), before)
    assert space.unit_rows.data_ptr() != wte.data_ptr()
    assert lm.model.lm_head.weight is wte  # still tied


def test_it_is_made_once_per_model_and_per_bit_width(lm):
    assert lm.embedding_space() is lm.embedding_space()
    rounded = lm.embedding_space(4)
    assert rounded is lm.embedding_space(4) and rounded is not lm.embedding_space()
    assert torch.equal(rounded.rows, lm.quantized(4).transformer.wte.weight.detach())
