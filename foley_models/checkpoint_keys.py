"""Reading a model's size from the key names of its checkpoint."""


def block_count(state_dict, prefix):
    """Blocks numbered under `prefix` (keys `{prefix}{i}.…`): one more than the highest index, 0 for none."""
    return 1 + max((int(k[len(prefix):].split(".", 1)[0]) for k in state_dict if k.startswith(prefix)), default=-1)
