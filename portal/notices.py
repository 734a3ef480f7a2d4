"""The practice's legal notices: its own Markdown page, its website's page, or "ask the front desk".

A notice whose slug has a file ``instance/notices/<slug>.md`` is shown inside the portal's layout,
rendered by markdown-it-py with raw HTML off (headings, lists, emphasis and links; a
``javascript:`` or ``data:`` link is refused by the parser's own link check). Without a file, a
notice with a ``url`` links to the practice's page, and one with neither shows the placeholder.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app, url_for
from markdown_it import MarkdownIt
from markupsafe import Markup

from .practice import Notice

# CommonMark with raw HTML off: a "<script>" in the file is shown as text, never run.
_markdown = MarkdownIt("commonmark", {"html": False, "typographer": True}).enable("replacements")


def markdown_file(notice: Notice) -> Path | None:
    """The practice's own Markdown page for this notice, if it wrote one."""
    path = Path(current_app.instance_path) / "notices" / f"{notice.slug}.md"
    return path if path.is_file() else None


def notice_href(notice: Notice) -> str:
    """Where a link to the notice goes: the portal's page unless only a URL is known."""
    if notice.url and markdown_file(notice) is None:
        return notice.url
    return url_for("public.notice", slug=notice.slug)


def render_markdown(text: str) -> Markup:
    """Markdown to safe HTML; its headings start at h2, under the page's own h1 (the title)."""
    tokens = _markdown.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    # Safe to mark: with html off, markdown-it escapes every character of the file's own text.
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


def notice_body(notice: Notice) -> Markup | None:
    """The notice's page rendered from its Markdown file, if there is one."""
    path = markdown_file(notice)
    if path is None:
        return None
    return render_markdown(path.read_text(encoding="utf-8"))
