"""Reading a free-text reply as one of a fixed set of options."""
from __future__ import annotations

import re


def pick_option(reply: str, options: list[str]) -> int:
    """The option whose first standalone, case-insensitive occurrence comes first in `reply`.

    A longer option wins a tie at the same place ("No opinion" over "No"); a tie between
    options of the same length, or no occurrence at all, gives -1.
    """
    found = []
    for i, option in enumerate(o.strip() for o in options):
        match = re.search(rf"(?<!\w){re.escape(option)}(?!\w)", reply, re.IGNORECASE) if option else None
        if match:
            found.append((match.start(), -len(option), i))
    if not found:
        return -1
    found.sort()
    if len(found) > 1 and found[0][:2] == found[1][:2]:
        return -1
    return found[0][2]
