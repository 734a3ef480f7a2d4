"""The practice's legal notices: its own Markdown page, its website's page, or "ask the front desk".

A notice whose slug has a file ``instance/notices/<slug>.md`` is shown inside the portal's layout
(in another language, ``<slug>.<tag>.md`` such as ``privacy-practices.es.md`` when there is one),
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


def markdown_file(notice: Notice, tag: str | None = None) -> Path | None:
    """The practice's own Markdown page for this notice (``<slug>.<tag>.md`` in a language)."""
    name = f"{notice.slug}.{tag}.md" if tag else f"{notice.slug}.md"
    path = Path(current_app.instance_path) / "notices" / name
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


def notice_body(notice: Notice, tag: str | None = None) -> tuple[Markup | None, str | None]:
    """The notice's page from its Markdown file in the language ``tag``, else the profile's own;
    with the lang to mark it with when it is not in the page's language (None when it is)."""
    path = markdown_file(notice, tag) if tag else None
    lang = None
    if path is None:
        path = markdown_file(notice)
        lang = current_app.extensions["practice"].languages[0] if tag else None
    if path is None:
        return None, None
    return render_markdown(path.read_text(encoding="utf-8")), lang
