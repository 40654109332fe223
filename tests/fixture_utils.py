"""Shared helpers for reading the vendored golden fixtures and applying their tolerances."""
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_json(name):
    return json.loads((FIXTURES / name / "fixture.json").read_text())


def tensors(name, file):
    return load_file(str(FIXTURES / name / file))


def assert_close(actual, expected, tolerance):
    """Elementwise check with a fixture tolerance entry {"atol", "rtol"}."""
    torch.testing.assert_close(actual.float(), expected.float(), atol=tolerance["atol"], rtol=tolerance["rtol"])


def rel_l2_cosine(actual, expected):
    a, b = actual.double().flatten(), expected.double().flatten()
    return ((a - b).norm() / b.norm()).item(), torch.nn.functional.cosine_similarity(a, b, dim=0).item()


def assert_bf16_criteria(actual, expected, tolerance):
    """bf16 outputs are judged by relative L2 error and cosine similarity (fixtures README)."""
    rel, cos = rel_l2_cosine(actual, expected)
    assert rel <= tolerance["max_rel_l2"] and cos >= tolerance["min_cosine"], (rel, cos)
