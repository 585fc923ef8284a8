"""The blocks of docs/day1.md that the end-to-end suite runs as printed (marked `<!-- e2e:NAME -->`)."""
import re
import shlex

from testbed import REPO

DAY1 = REPO / "docs" / "day1.md"


def block(name):
    """The lines of the ```bash block after the marker `<!-- e2e:NAME -->`, continuations joined."""
    text = DAY1.read_text(encoding="utf-8")
    match = re.search(r"<!-- e2e:%s -->\s*```bash\n(.*?)```" % re.escape(name), text, re.S)
    assert match, "docs/day1.md has no block marked e2e:%s" % name
    joined = re.sub(r"\\\n\s*", " ", match.group(1))
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def extra_vars(command):
    """The `-e key=value` pairs of an ansible-playbook command, as printed."""
    words = shlex.split(command)
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word == "-e"]
