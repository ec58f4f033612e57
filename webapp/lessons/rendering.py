"""Markdown to HTML for lessons: MathML math, the model's facts, widget slots, a contents list.

One markdown-it parser does the work; this module adds the three things lessons need:
`$…$` / `$$…$$` through latex2mathml, `{{fact}}` from the model on the page (in prose and
in formulas, each formatted for where it stands), and `[[widget NAME]]` lines that become
the empty figures widgets mount into. Anything left unconverted is an error here, at
render time, which the lesson tests run for every lesson.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from mdit_py_plugins.dollarmath import dollarmath_plugin

from .facts import as_latex, as_text
from .math_markup import MathError, to_mathml

FACT = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
WIDGET_LINE = re.compile(r"^\[\[widget ([a-z0-9]+(?:-[a-z0-9]+)*)\]\]\s*$")
MATH_TOKENS = {"math_inline", "math_inline_double", "math_block", "math_block_label"}


class RenderError(ValueError):
    """A lesson that cannot be shown as written (bad math, unknown fact)."""


@dataclass(frozen=True)
class Rendered:
    html: str
    contents: tuple[tuple[str, str], ...]  # (anchor id, heading text) of every ## heading
    widgets: tuple[str, ...]  # in page order


def _widget_rule(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A line holding only [[widget NAME]] is a block of its own."""
    line = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    match = WIDGET_LINE.match(line)
    if not match:
        return False
    if not silent:
        token = state.push("widget", "figure", 0)
        token.meta = {"name": match.group(1)}
        token.map = [start, start + 1]
    state.line = start + 1
    return True


def _render_math(content: str, options: dict[str, Any]) -> str:
    try:
        return to_mathml(content, display=bool(options.get("display_mode")))
    except MathError as error:
        raise RenderError(str(error)) from error


def _parser() -> MarkdownIt:
    # html off: lessons are ours, but nothing in them should need raw HTML
    md = MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(
        ["replacements", "smartquotes", "table"]
    )
    dollarmath_plugin(md, allow_digits=False, double_inline=True, renderer=_render_math)
    md.block.ruler.before("paragraph", "widget", _widget_rule)
    md.add_render_rule("widget", _render_widget)
    return md


def _render_widget(self, tokens, index, options, env) -> str:
    name = tokens[index].meta["name"]
    number = env.setdefault("widget_count", 0) + 1
    env["widget_count"] = number
    return (
        f'<figure class="widget" data-widget="{name}" id="widget-{number}">'
        '<p class="widget-loading">Loading the live widget… It needs JavaScript and a '
        "connection to the model.</p></figure>\n"
    )


PARSER = _parser()


def _fill(text: str, facts: dict[str, Any], formatter) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in facts:
            raise RenderError(f"unknown fact {{{{{name}}}}}; the facts are in docs/lessons.md")
        return formatter(facts[name])

    return FACT.sub(replace, text)


def _fill_tokens(tokens, facts: dict[str, Any]) -> None:
    for token in tokens:
        if token.type in MATH_TOKENS:
            token.content = _fill(token.content, facts, as_latex)
        elif token.type == "inline" and token.children:
            _fill_tokens(token.children, facts)
        elif token.type == "text":
            token.content = _fill(token.content, facts, as_text)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def _anchor_headings(tokens) -> tuple[tuple[str, str], ...]:
    contents, seen = [], set()
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.tag not in ("h2", "h3"):
            continue
        inline = tokens[index + 1]
        title = "".join(
            c.content for c in inline.children or [] if c.type in ("text", "code_inline")
        )
        anchor = base = slugify(title)
        suffix = 2
        while anchor in seen:
            anchor, suffix = f"{base}-{suffix}", suffix + 1
        seen.add(anchor)
        token.attrSet("id", anchor)
        if token.tag == "h2":
            contents.append((anchor, title))
    return tuple(contents)


def render_markdown(source: str, facts: dict[str, Any]) -> Rendered:
    """A lesson body as HTML, with its contents and the widgets it embeds."""
    env: dict[str, Any] = {}
    tokens = PARSER.parse(source, env)
    _fill_tokens(tokens, facts)
    contents = _anchor_headings(tokens)
    widgets = tuple(t.meta["name"] for t in tokens if t.type == "widget")
    markup = PARSER.renderer.render(tokens, PARSER.options, env)
    _refuse_leftovers(markup)
    return Rendered(markup, contents, widgets)


def render_inline(source: str, facts: dict[str, Any]) -> str:
    """A short piece (a goal, a question, a choice) as inline HTML: no paragraph around it."""
    env: dict[str, Any] = {}
    tokens = PARSER.parseInline(source.strip(), env)
    _fill_tokens(tokens, facts)
    markup = PARSER.renderer.render(tokens, PARSER.options, env)
    _refuse_leftovers(markup)
    return markup


def _refuse_leftovers(markup: str) -> None:
    """LaTeX or a placeholder that survived rendering means a lesson typo: say where."""
    text = re.sub(r"<math.*?</math>", "", markup, flags=re.S)
    for pattern, what in ((r"\{\{", "a {{fact}} placeholder"), (r"\$\$?[^$<]*\\[A-Za-z]", "LaTeX")):
        found = re.search(pattern, html.unescape(text))
        if found:
            start = max(0, found.start() - 40)
            raise RenderError(f"{what} left unrendered near: {text[start : found.end() + 40]!r}")
