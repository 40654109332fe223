"""Workflow files -> the API format that ComfyUI's POST /prompt takes, without the front end.

A file the front end saves ("UI format": `nodes`, `links`, `widgets_values`) is converted with a server's
/object_info, which says which inputs of a node are widgets and in which order their values were saved. A file
in the API format ({node id: {"class_type", "inputs"}}) passes through unchanged. Standard library only.

What the conversion follows (as the front end's "Queue" does):

- `widgets_values` are matched to the node's widget inputs in their definition order (required, then optional).
  Values the front end saves for its own widgets are skipped: the "control after generate" mode after a seed
  (and, for a combo with that control, its filter text), and trailing extras such as the upload button of
  LoadVideo / LoadImage / LoadAudio or an audio player. Missing trailing values take the input's default.
- A widget converted to an input and linked takes the link; without a usable link it keeps its saved value.
- Links are looked up by id and followed through Reroute nodes, PrimitiveNode (its value becomes the input's
  value) and bypassed nodes (mode 4: the input of the same type is passed through). Muted nodes (mode 2) are
  left out and links from them are dropped; bypassed nodes are left out too.
- Note, MarkdownNote, Reroute, PrimitiveNode and groups are front-end only and are not in the prompt.
- Subgraphs and the old group nodes are not expanded: such a file is refused with a message.
"""
import copy
import json

MODE_MUTED = 2  # "Never"
MODE_BYPASSED = 4
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
SEED_NAMES = ("seed", "noise_seed")  # INT inputs that older front ends gave a control widget without the flag
WIDGET_TYPES = ("INT", "FLOAT", "BOOLEAN", "STRING", "COMBO")
VIRTUAL_NODES = ("Note", "MarkdownNote", "Reroute", "PrimitiveNode")


class ConversionError(ValueError):
    """The workflow cannot be turned into a prompt for this server (the message says why)."""


# --- formats ------------------------------------------------------------------------------------------------

def is_ui_format(workflow):
    return isinstance(workflow, dict) and isinstance(workflow.get("nodes"), list) and "links" in workflow


def is_api_format(workflow):
    return (isinstance(workflow, dict) and bool(workflow) and not is_ui_format(workflow)
            and all(isinstance(v, dict) and "class_type" in v for v in workflow.values()))


def load_workflow(path):
    with open(path, encoding="utf-8") as f:
        workflow = json.load(f)
    if not (is_ui_format(workflow) or is_api_format(workflow)):
        raise ConversionError(f"{path}: neither a workflow saved by ComfyUI (nodes, links) nor an API-format prompt")
    return workflow


def to_api(workflow, object_info=None):
    """An API-format prompt for `workflow` (a copy: the argument is not changed)."""
    if is_api_format(workflow):
        return copy.deepcopy(workflow)
    if not is_ui_format(workflow):
        raise ConversionError("neither a workflow saved by ComfyUI (nodes, links) nor an API-format prompt")
    if object_info is None:
        raise ConversionError("a workflow in the UI format needs the server's /object_info to be converted")
    return ui_to_api(workflow, object_info)


# --- widgets ------------------------------------------------------------------------------------------------

def input_specs(node_info):
    """[(name, type, options)] of a node's required and optional inputs in definition order (hidden left out)."""
    specs, order = node_info.get("input") or {}, node_info.get("input_order") or {}
    result = []
    for section in ("required", "optional"):
        entries = specs.get(section) or {}
        for name in order.get(section) or list(entries):
            spec = entries.get(name)
            if spec is None:
                continue
            spec = spec if isinstance(spec, (list, tuple)) else [spec]
            options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            result.append((name, spec[0] if spec else None, options))
    return result


def _is_combo(kind):
    return kind == "COMBO" or isinstance(kind, list)


def _is_widget(name, kind, options, ui_widget_names):
    if name in ui_widget_names:  # the saved node says so (front ends since 2025 list every widget input)
        return True
    if options.get("forceInput"):
        return False
    return _is_combo(kind) or kind in WIDGET_TYPES


def _extras(name, kind, options):
    """The values the front end saves after this widget's own value, in order."""
    control = options.get("control_after_generate")
    if kind == "INT" and (control or name in SEED_NAMES):
        return ("control",)
    if _is_combo(kind) and control:
        return ("control", "filter")
    return ()


def _default(kind, options):
    if "default" in options:
        return options["default"]
    if isinstance(kind, list):
        return kind[0] if kind else None
    if kind == "COMBO" and options.get("options"):
        return options["options"][0]
    return None


def widget_values(node_info, saved, ui_widget_names=()):
    """{input name: value} of a node's widgets from its saved `widgets_values` (a list, or a dict by name)."""
    slots = [(n, k, o) for n, k, o in input_specs(node_info) if _is_widget(n, k, o, ui_widget_names)]
    if isinstance(saved, dict):
        return {n: saved[n] for n, _, _ in slots if n in saved}
    values = list(saved or [])
    surplus = len(values) - len(slots)  # values of front-end-only widgets
    result, pos = {}, 0
    for name, kind, options in slots:
        if pos >= len(values):  # saved before the node had this input: the front end would show the default
            default = _default(kind, options)
            if default is not None:
                result[name] = default
            continue
        result[name] = values[pos]
        pos += 1
        for extra in _extras(name, kind, options):
            if surplus <= 0 or pos >= len(values):
                break
            if extra == "control" and not (isinstance(values[pos], str) and values[pos] in CONTROL_VALUES):
                break
            pos += 1
            surplus -= 1
    return result


# --- links --------------------------------------------------------------------------------------------------

class _Link:
    __slots__ = ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")

    def __init__(self, entry):
        if isinstance(entry, dict):
            values = [entry.get(k) for k in self.__slots__]
        else:
            values = list(entry) + [None] * (6 - len(entry))
        for key, value in zip(self.__slots__, values):
            setattr(self, key, value)


def _types_match(a, b):
    if a in (None, "*", "") or b in (None, "*", ""):
        return True
    return bool(set(str(a).split(",")) & set(str(b).split(",")))


def _check_supported(workflow, nodes, object_info):
    subgraphs = {s.get("id") for s in (workflow.get("definitions") or {}).get("subgraphs") or []}
    group_nodes = set((workflow.get("extra") or {}).get("groupNodes") or {})
    unknown = set()
    for node in nodes.values():
        kind = node.get("type")
        if kind in subgraphs:
            raise ConversionError(f"node {node['id']} is a subgraph ({node.get('title') or kind}): subgraphs are not "
                                  "expanded here; unpack it in the editor, or export the workflow in the API format")
        if str(kind).startswith(("workflow>", "workflow/")) or kind in group_nodes:
            raise ConversionError(f"node {node['id']} is a group node ({kind}): convert it back to nodes in the "
                                  "editor, or export the workflow in the API format")
        if kind not in object_info and kind not in VIRTUAL_NODES and node.get("mode", 0) not in (MODE_MUTED,
                                                                                                MODE_BYPASSED):
            unknown.add(str(kind))
    if unknown:
        raise ConversionError("node types not installed on the server: " + ", ".join(sorted(unknown)))


def ui_to_api(workflow, object_info):
    """Convert a UI-format workflow with the server's /object_info -> {node id: {inputs, class_type, _meta}}."""
    nodes = {str(n["id"]): n for n in workflow.get("nodes") or []}
    links = {}
    for entry in workflow.get("links") or []:
        link = _Link(entry)
        links[link.id] = link
    _check_supported(workflow, nodes, object_info)

    def input_link(node, slot):
        inputs = node.get("inputs") or []
        return inputs[slot].get("link") if slot < len(inputs) else None

    def source(link_id, wanted_type):
        """-> ("link", [node id, slot]) | ("value", v) | None, through reroutes, primitives and bypassed nodes."""
        seen = set()
        while link_id is not None and link_id not in seen:
            seen.add(link_id)
            link = links.get(link_id)
            origin = nodes.get(str(link.origin_id)) if link is not None else None
            if origin is None:
                return None
            kind, mode = origin.get("type"), origin.get("mode", 0)
            if kind == "Reroute":
                link_id = input_link(origin, 0)
            elif kind == "PrimitiveNode":
                saved = origin.get("widgets_values") or []
                return ("value", saved[0]) if saved else None
            elif mode == MODE_MUTED or kind in VIRTUAL_NODES:
                return None
            elif mode == MODE_BYPASSED:
                # the front end passes through the bypassed node's input of the wanted type, its own slot first
                inputs = origin.get("inputs") or []
                order = [link.origin_slot] if isinstance(link.origin_slot, int) else []
                link_id = None
                for i in order + list(range(len(inputs))):
                    if 0 <= i < len(inputs) and _types_match(inputs[i].get("type"), wanted_type):
                        link_id = inputs[i].get("link")
                        break
            else:
                return ("link", [str(origin["id"]), link.origin_slot])
        return None

    prompt = {}
    for node_id, node in nodes.items():
        kind = node.get("type")
        if kind in VIRTUAL_NODES or node.get("mode", 0) in (MODE_MUTED, MODE_BYPASSED):
            continue
        info = object_info[kind]
        ui_inputs = node.get("inputs") or []
        ui_widget_names = {i["widget"]["name"] for i in ui_inputs if isinstance(i.get("widget"), dict)}
        inputs = widget_values(info, node.get("widgets_values"), ui_widget_names)
        for ui_input in ui_inputs:
            if ui_input.get("link") is None:
                continue
            name = (ui_input.get("widget") or {}).get("name") or ui_input.get("name")
            found = source(ui_input["link"], ui_input.get("type"))
            if found is not None:
                inputs[name] = found[1]
        title = node.get("title") or info.get("display_name") or kind
        prompt[node_id] = {"inputs": inputs, "class_type": kind, "_meta": {"title": title}}
    return prompt
