"""The ids of a targets file, for the data scripts' --ids option (make_robustness.py,
make_conversations.py). Standard library only."""
import pathlib
import sys


def read_ids(path, tool):
    """The first column of each non-empty line of `path` (a targets TSV such as
    make_selection_fold.py's selection_targets.tsv), less a header line `id`.

    Exits with a message naming `tool` and `path` when the file does not exist."""
    path = pathlib.Path(path)
    if not path.is_file():
        sys.exit(f"{tool}: {path}: no such file")
    ids = {line.split("\t")[0] for line in path.read_text().splitlines() if line.strip()}
    ids.discard("id")  # a targets file's optional header line
    return ids
