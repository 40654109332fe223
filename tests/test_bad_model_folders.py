"""Bad model folders named when the prompt is queued, before anything runs; a bad one never breaks the pack.

Each test makes its bad folder next to the tiny models in models/foley and removes it afterwards.
"""
import contextlib
import logging
import shutil

import pytest

from graph import CLIP
from test_graphs import foley_graph

CLAP = "larger_clap_general"


def queue_errors(comfyui, graph):
    """{node id: error details} of a prompt that must fail validation, and proof that nothing ran."""
    ok, _, _, node_errors = comfyui.validate(graph)
    assert not ok
    return {node_id: " ".join(e["details"] for e in err["errors"]) for node_id, err in node_errors.items()}


@contextlib.contextmanager
def clap_copy(models, name, remove=()):
    """A copy of the tiny CLAP folder under `name` in models/foley, without the files `remove`."""
    folder = models / name
    shutil.copytree(models / CLAP, folder)
    for file in remove:
        (folder / file).unlink(missing_ok=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_a_clap_folder_without_tokenizer_files_fails_when_queued(comfyui, models):
    with clap_copy(models, "clap_no_tokenizer", remove=("vocab.json", "merges.txt", "tokenizer.json")) as folder:
        assert (folder / "tokenizer_config.json").is_file()  # enough for transformers to build an empty tokenizer
        graph = foley_graph(CLIP)
        graph["2"]["inputs"]["folder"] = folder.name
        errors = queue_errors(comfyui, graph)
    assert "no tokenizer files" in errors["2"] and str(folder) in errors["2"]


def test_the_scorer_needs_the_clap_preprocessor_config_when_queued(comfyui, models):
    with clap_copy(models, "clap_no_preprocessor", remove=("preprocessor_config.json",)) as folder:
        graph = {"1": {"class_type": "FoleyLoadSyncScorer",
                       "inputs": {"synchformer": "synchformer_state_dict.pth", "clap": folder.name}},
                 "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
        errors = queue_errors(comfyui, graph)
    assert "preprocessor_config.json" in errors["1"] and str(folder) in errors["1"]


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"\xff\xfe not utf-8", b'{"model_type": "clap", '])
def test_an_unreadable_config_is_named_and_breaks_nothing_else(comfyui, models, caplog, content):
    with clap_copy(models, "clap_interrupted_download") as folder:
        (folder / "config.json").write_bytes(content)
        loader = comfyui.nodes.NODE_CLASS_MAPPINGS["FoleyCLAPLoader"]
        with caplog.at_level(logging.WARNING):
            options = loader.INPUT_TYPES()["required"]["folder"][1]["options"]  # the listing at start-up
        assert options == [CLAP]  # the good folder stays, the bad one is left out ...
        assert str(folder / "config.json") in caplog.text  # ... with a warning naming its file
        assert comfyui.validate(foley_graph(CLIP))[0]  # other prompts are untouched
        graph = foley_graph(CLIP)
        graph["2"]["inputs"]["folder"] = folder.name
        errors = queue_errors(comfyui, graph)
    assert str(folder / "config.json") in errors["2"] and "download it again" in errors["2"]


def test_folder_inputs_reach_only_folders_inside_the_model_folders(comfyui, models, tmp_path):
    outside = tmp_path / "clap_elsewhere"
    shutil.copytree(models / CLAP, outside)  # a complete CLAP folder, but not under models/foley
    graph = foley_graph(CLIP)
    messages = {}
    for value in (str(outside), f"../{models.name}/{CLAP}", f"{CLAP}/../../{models.name}/{CLAP}", "no_such_folder"):
        graph["2"]["inputs"]["folder"] = value
        messages[value] = queue_errors(comfyui, graph)["2"].replace(repr(value), "NAME").replace(value, "NAME")
    # refused, with the message of an absent folder: the error tells nothing about what exists elsewhere
    assert len(set(messages.values())) == 1, messages
    assert "not found in" in messages["no_such_folder"]
    graph["2"]["inputs"]["folder"] = CLAP
    assert comfyui.validate(graph)[0]


def test_a_folder_linked_into_models_foley_is_accepted(comfyui, models, tmp_path):
    elsewhere = tmp_path / "clap_on_another_disk"
    shutil.copytree(models / CLAP, elsewhere)
    link = models / "clap_linked"
    link.symlink_to(elsewhere, target_is_directory=True)
    try:
        graph = foley_graph(CLIP)
        graph["2"]["inputs"]["folder"] = link.name
        assert comfyui.validate(graph)[0]
    finally:
        link.unlink()
