"""The worker's model cache: keyed by checksum, never stale, within a memory budget."""

from __future__ import annotations

import pytest
import torch

from tests.factories import make_bundle
from webapp.catalog.storage import bundle_sha256
from webapp.playground import model_cache


def logits(lm):
    return lm.trace(lm.tokenizer.encode("hello")).logits


def test_a_model_is_loaded_once_per_checksum(tmp_path):
    folder = make_bundle(tmp_path / "m", seed=1)
    sha = bundle_sha256(folder)
    assert model_cache.get_model(folder, sha) is model_cache.get_model(folder, sha)


def test_the_worker_serves_the_new_checksum_after_the_files_change(tmp_path):
    folder = make_bundle(tmp_path / "m", seed=1)
    old_sha = bundle_sha256(folder)
    old = model_cache.get_model(folder, old_sha)
    make_bundle(folder, seed=2)  # staff replace the files; re-validation records the new sum
    new_sha = bundle_sha256(folder)
    assert new_sha != old_sha
    new = model_cache.get_model(folder, new_sha)
    assert new is not old
    assert not torch.allclose(logits(new), logits(old))
    assert model_cache.loaded_keys() == [(str(folder.resolve()), new_sha)]


def test_files_that_no_longer_match_the_registry_are_refused(tmp_path):
    folder = make_bundle(tmp_path / "m", seed=1)
    registered = bundle_sha256(folder)
    make_bundle(folder, seed=3)  # changed on disk, registry not told
    with pytest.raises(model_cache.ModelChanged, match="re-validate"):
        model_cache.get_model(folder, registered)


def test_the_cache_stays_within_its_memory_budget(tmp_path, settings):
    folders = [make_bundle(tmp_path / f"m{i}", seed=i) for i in range(3)]
    first = model_cache.get_model(folders[0])
    one_model = model_cache.model_bytes(first)
    settings.GLASSBOX = {**settings.GLASSBOX, "WORKER_MEMORY_MB": 2.5 * one_model / 2**20}
    for folder in folders[1:]:
        model_cache.get_model(folder)
    assert [key[0] for key in model_cache.loaded_keys()] == [
        str(folders[1].resolve()),
        str(folders[2].resolve()),
    ]
