"""LaTeX to MathML, on the server: math a student can select, zoom and print, with no
JavaScript and no CDN. A formula latex2mathml cannot read raises, so a broken lesson fails
its test instead of showing a student raw LaTeX.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

# What latex2mathml leaves untranslated shows up as a backslash command in its output.
LEFTOVER_COMMAND = re.compile(r"\\[A-Za-z]+")


class MathError(ValueError):
    """A formula that does not convert to MathML."""


def to_mathml(latex: str, display: bool = False) -> str:
    """The MathML for one formula (display: a block of its own), with its LaTeX as a label."""
    source = latex.strip()
    if not source:
        raise MathError("an empty formula ($$ with nothing between)")
    try:
        markup = convert(source, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises several kinds; all mean "unreadable"
        raise MathError(f"cannot convert {source!r}: {error}") from error
    leftover = LEFTOVER_COMMAND.search(re.sub(r"<[^>]+>", " ", markup))
    if leftover:
        raise MathError(f"cannot convert {leftover.group(0)} in {source!r}")
    # the LaTeX stays as the accessible label: screen readers and copy both get something
    return markup.replace("<math ", f'<math alttext="{html.escape(source)}" ', 1)
