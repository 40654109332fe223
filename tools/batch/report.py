"""The batch report: `<base>.json` (the data as it is) and `<base>.csv` (one line per row, safe to open in a
spreadsheet), and the scores read from a run's node outputs. Standard library only."""
import csv
import json
import os
import re

REPORT_FIELDS = ["row", "path", "prompt", "negative_prompt", "seed", "start", "duration", "status", "message",
                 "outputs", "server", "prompt_id", "seconds", "scores"]
SCORE_KEY = re.compile("score|candidate", re.IGNORECASE)
# what a spreadsheet takes for the start of a formula (OWASP "CSV injection"); tab and CR too, since some
# programs drop them and read what follows
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_cell(value):
    """A report cell as text a spreadsheet shows and never evaluates: text starting like a formula gets a
    leading `'` (what OWASP recommends), except a plain number such as a negative seed or offset (`-3`,
    `-0.5`), which a spreadsheet reads as that number and nothing else."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _numeric(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, dict):
        kept = {k: v for k, v in ((k, _numeric(v)) for k, v in value.items()) if v is not None}
        return kept or None
    if isinstance(value, (list, tuple)):
        kept = [v for v in (_numeric(v) for v in value) if v is not None]
        return kept or None
    return None


def scores(outputs):
    """The numbers of node outputs whose key names scores or candidates (e.g. FoleyScore's DeSync and CLAP per
    candidate) -> {key: numbers} or None. Strings and file references are left out."""
    found = {}
    for node_id, ui in outputs.items():
        for key, value in ui.items():
            if not SCORE_KEY.search(str(key)):
                continue
            numbers = _numeric(value)
            if numbers is None:
                continue
            if isinstance(numbers, list) and len(numbers) == 1:  # ui values are lists, usually of one
                numbers = numbers[0]
            found[key if key not in found else f"{key}@{node_id}"] = numbers
    return found or None


def report_paths(base):
    return base + ".csv", base + ".json"


def csv_line(row):
    """A report row (as in the JSON) -> the cells of its CSV line."""
    cells = {**row, "status": row["status"] or "", "outputs": ";".join(row["outputs"]),
             "seconds": "" if row["seconds"] is None else row["seconds"],
             "scores": json.dumps(row["scores"], separators=(",", ":")) if row["scores"] else ""}
    return {name: spreadsheet_cell(cells.get(name)) for name in REPORT_FIELDS}


def write_report(base, data):
    """Write `data` (with its per-row `rows`) to base.json and base.csv; each file is replaced whole, so a
    reader never sees half of one."""
    csv_path, json_path = report_paths(base)
    os.makedirs(os.path.dirname(os.path.abspath(base)) or ".", exist_ok=True)
    with open(json_path + ".part", "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(json_path + ".part", json_path)
    with open(csv_path + ".part", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, REPORT_FIELDS)
        writer.writeheader()
        for row in data["rows"]:
            writer.writerow(csv_line(row))
    os.replace(csv_path + ".part", csv_path)
