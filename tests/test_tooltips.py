"""Every input of every Foley node carries a tooltip, as the front end receives it from /object_info."""
from conftest import PACK_NODE_PREFIX


def _inputs(info):
    """(section, name, options) for every input of one /object_info entry (required, optional; not hidden)."""
    for section in ("required", "optional"):
        for name, spec in (info.get("input", {}).get(section) or {}).items():
            options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            yield section, name, options


def test_every_input_of_every_foley_node_has_a_tooltip(comfy_server):
    object_info = comfy_server.object_info()
    foley_nodes = {node_id: info for node_id, info in object_info.items() if node_id.startswith(PACK_NODE_PREFIX)}
    assert foley_nodes, "no node id starting with 'Foley' in /object_info"
    assert sorted(foley_nodes) == comfy_server.pack_node_ids, "Foley nodes in /object_info differ from the pack's"
    checked, missing = 0, []
    for node_id, info in sorted(foley_nodes.items()):
        for section, name, options in _inputs(info):
            checked += 1
            tooltip = options.get("tooltip")
            if not isinstance(tooltip, str) or not tooltip.strip():
                missing.append(f"{node_id}.{name} ({section})")
    assert checked > len(foley_nodes), f"only {checked} inputs found on {len(foley_nodes)} Foley nodes"
    assert not missing, f"{len(missing)} of {checked} inputs have no tooltip: " + ", ".join(missing)
