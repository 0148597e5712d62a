"""Time building fix notes on a long script with many module-level findings.

    python benchmarks/bench_fix_notes.py [--lines 4338] [--findings 40] [--repeat 3]

A generated script of about --lines lines (filler functions) with --findings module-level
findings of several rules (GL101/GL201 evaluation loops, GL202, GL302, GL401, GL501): the
shape whose fix notes once cost a walk over the whole module per finding (21 s for 40
findings in 4,338 lines). Prints the median seconds of ``lint_text`` without fixes, with
fix notes (what ``gradlint PATH`` does) and of ``fix_text --unsafe-fixes`` (what ``--fix``
does), and the notes' cost over the plain lint. Targets belong here, not in tests.
"""

from __future__ import annotations

import argparse

from bench_lint import _median_seconds as median  # the same timing as bench_lint.py

from gradlint.autofix import fix_text
from gradlint.engine import lint_text

HEAD = """\
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
model.load_state_dict(torch.load("weights.pt"))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""

FILLER = """
def helper_{i}(values, scale=2):
    total = 0
    for value in values:
        if value > scale:
            total += value * scale
        else:
            total -= value
    return total
"""

FINDINGS = [
    "for x in test_loader_{i}:\n    print(model(x))\n",                                   # GL101 + GL201
    "x_{i} = torch.randn(3, requires_grad=True)\ny_{i} = x_{i} * 2\nprint(y_{i}.grad)\n",  # GL401
    "torch.no_grad()\nprint('after {i}')\n",                                                # GL202
    "model.requires_grad = False\n",                                                        # GL302
    "losses_{i} = []\nfor batch in train_loader_{i}:\n    optimizer.zero_grad()\n"
    "    loss = model(batch).sum()\n    loss.backward()\n    optimizer.step()\n    losses_{i}.append(loss)\n",  # GL501
]


def script(lines: int, findings: int) -> str:
    parts = [HEAD]
    filler = max(0, lines - 60 * findings // len(FINDINGS)) // FILLER.count("\n")
    every = max(1, filler // max(1, findings))
    made = 0
    for i in range(max(filler, findings)):
        if i < filler:
            parts.append(FILLER.format(i=i))
        if made < findings and i % every == 0:
            parts.append("\n" + FINDINGS[made % len(FINDINGS)].format(i=made))
            made += 1
    return "".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=4338)
    parser.add_argument("--findings", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    text = script(args.lines, args.findings)
    found = lint_text(text, "generated.py", fixes="notes")
    print(f"{text.count(chr(10))} lines, {len(found)} findings "
          f"({sum(1 for f in found if f.fix is not None)} with a fix note)")
    plain = median(lambda: lint_text(text, "generated.py"), args.repeat)
    notes = median(lambda: lint_text(text, "generated.py", fixes="notes"), args.repeat)
    fixing = median(lambda: fix_text(text, "generated.py", unsafe=True), args.repeat)
    print(f"lint            {plain:8.2f} s")
    print(f"lint + notes    {notes:8.2f} s   (notes: +{notes - plain:.2f} s)")
    print(f"fix --unsafe    {fixing:8.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
