"""The command's options and CSV columns as inputs of a workflow's nodes (API format): which node input each one
sets, `--set NODE.INPUT=VALUE`, and the per-row file prefixes. Standard library only."""
import collections
import copy
import json

# override -> (class_type, input) targets; the first group with a node in the workflow is used, all of its nodes
TARGETS = {
    "video": [[("LoadVideo", "file")]],
    "prompt": [[("FoleyTextEncode", "prompt"), ("FoleyScore", "prompt")]],
    "negative": [[("FoleyTextEncode", "negative_prompt")]],
    "seed": [[("FoleySampler", "seed")],
             [("KSampler", "seed"), ("KSamplerAdvanced", "noise_seed"), ("RandomNoise", "noise_seed")]],
    "candidates": [[("FoleyConditioning", "batch_size")]],
    "start": [[("FoleyVisualEncode", "start_time"), ("FoleySyncEncode", "start_time")]],
    "duration": [[("FoleyVisualEncode", "duration"), ("FoleySyncEncode", "duration")],
                 [("FoleyConditioning", "duration")]],  # text only: the length of the audio
    "steps": [[("FoleySampler", "steps")], [("KSampler", "steps"), ("KSamplerAdvanced", "steps"),
                                           ("BasicScheduler", "steps")]],
}
OPTION_NAMES = {"video": "--video / path", "prompt": "--prompt", "negative": "--negative", "seed": "--seed",
                "candidates": "--candidates", "start": "--start", "duration": "--duration", "steps": "--steps"}


class UsageError(Exception):
    """Bad arguments or a workflow that cannot take them: nothing runs."""


class OverrideError(UsageError):
    pass


def _is_link(value):
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def _holder(prompt, node_id, name, option):
    """(node id, input) holding the value: the input itself or the `value` of a Primitive* node linked to it."""
    value = prompt[node_id]["inputs"].get(name)
    if not _is_link(value):
        return node_id, name
    source = prompt.get(value[0])
    if source and source["class_type"].startswith("Primitive") and not _is_link(source["inputs"].get("value")):
        return value[0], "value"
    kind = source["class_type"] if source else "?"
    raise OverrideError(f"{option}: {prompt[node_id]['class_type']} (node {node_id}) takes {name} from {kind} "
                        f"(node {value[0]}), not from a value; change that node with --set")


def targets(prompt, key):
    """[(node id, input)] that override `key` sets in `prompt`."""
    for group in TARGETS[key]:
        hits = [(node_id, name) for node_id, node in prompt.items() for kind, name in group
                if node.get("class_type") == kind]
        if hits:
            return [_holder(prompt, node_id, name, OPTION_NAMES[key]) for node_id, name in hits]
    kinds = " or ".join(dict.fromkeys(kind for group in TARGETS[key] for kind, _ in group))
    raise OverrideError(f"{OPTION_NAMES[key]}: the workflow has no {kinds} node")


def apply_overrides(prompt, values):
    """Set each override (None = keep the workflow's value) -> {key: {node ids changed}}."""
    changed = {}
    for key, value in values.items():
        if value is None:
            continue
        changed[key] = set()
        for node_id, name in targets(prompt, key):
            prompt[node_id]["inputs"][name] = value
            changed[key].add(node_id)
    return changed


def parse_set(text):
    """'NODE.INPUT=VALUE' (NODE: a node id or a class_type; VALUE: JSON, else a string) -> (node, input, value)."""
    left, sep, raw = text.partition("=")
    node, dot, name = left.strip().rpartition(".")
    if not sep or not dot or not node or not name:
        raise UsageError(f"--set {text!r}: expected NODE.INPUT=VALUE, e.g. --set FoleySampler.cfg=5 or "
                         "--set 12.steps=8")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return node, name, value


def apply_sets(prompt, sets):
    for node, name, value in sets:
        ids = [node] if node in prompt else [i for i, n in prompt.items() if n.get("class_type") == node]
        if not ids:
            raise OverrideError(f"--set {node}.{name}: the workflow has no node with id or class {node!r}")
        for node_id in ids:
            prompt[node_id]["inputs"][name] = value


def tag_file_prefixes(prompt, tag):
    """`<prefix>-<tag>` for every filename_prefix: servers that share an output folder could otherwise pick the
    same file number at the same moment and write over each other's result before it is downloaded."""
    for node in prompt.values():
        prefix = node.get("inputs", {}).get("filename_prefix")
        if isinstance(prefix, str):
            node["inputs"]["filename_prefix"] = f"{prefix}-{tag}"


def effective_values(prompt, video=None):
    """What a run used, for the report: the value of each override's first target (the workflow's or ours)."""
    result = {}
    for key in TARGETS:
        try:
            node_id, name = targets(prompt, key)[0]
            result[key] = prompt[node_id]["inputs"].get(name)
        except OverrideError:
            result[key] = None
    result["video"] = video
    return result


def check_overrides(api_prompt, value_sets, sets, warn):
    """Overrides the workflow cannot take raise OverrideError here, before anything runs; an option that sets
    several nodes is `warn`ed about. `value_sets`: the {override: value} of every run."""
    used = {key for values in value_sets for key, value in values.items() if value is not None}
    probe = copy.deepcopy(api_prompt)
    for key in sorted(used):
        hits = collections.defaultdict(list)
        for node_id, _ in targets(probe, key):
            hits[probe[node_id]["class_type"]].append(node_id)
        for kind, ids in hits.items():
            if len(ids) > 1:
                warn(f"warning: {OPTION_NAMES[key]} sets all {len(ids)} {kind} nodes ({', '.join(ids)}); to set "
                     f"one, use --set ID.INPUT=VALUE")
    apply_overrides(probe, {key: 0 for key in used})
    apply_sets(probe, sets)
