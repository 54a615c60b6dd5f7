"""Parse a report with the standard library's html.parser, for the tests' checks."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class Tag:
    name: str
    attrs: dict[str, str]
    section: str | None  # id of the enclosing <section>


@dataclass
class Page(HTMLParser):
    tags: list[Tag] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._section: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "section":
            self._section.append(values.get("id", ""))
        self.tags.append(Tag(tag, values, self._section[-1] if self._section else None))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._section:
            self._section.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, name: str, cls: str | None = None, section: str | None = None) -> list[Tag]:
        return [
            t
            for t in self.tags
            if t.name == name
            and (cls is None or cls in t.attrs.get("class", "").split())
            and (section is None or t.section == section)
        ]


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def decode(uri: str) -> np.ndarray:
    """Pixels of a ``data:image/...;base64,`` URI (fails the test if Pillow cannot read it)."""
    head, payload = uri.split(",", 1)
    assert head in ("data:image/png;base64", "data:image/jpeg;base64"), head
    with Image.open(io.BytesIO(base64.b64decode(payload, validate=True))) as im:
        im.load()
        return np.asarray(im)


def photo_sections(html: str) -> dict[str, str]:
    """The text of each ``<section class="photo" id=...>`` (sections do not nest)."""
    out = {}
    start = 0
    marker = '<section class="photo" id="'
    while (i := html.find(marker, start)) >= 0:
        end = html.index("</section>", i) + len("</section>")
        ident = html[i + len(marker) : html.index('"', i + len(marker))]
        out[ident] = html[i:end]
        start = end
    return out


def check_self_contained(path: Path) -> Page:
    """Assert the page loads nothing: every src is a decodable data URI, no URL anywhere, and
    each href is an in-page anchor or a relative link to an existing file beside the page."""
    html = path.read_text(encoding="utf-8")
    lowered = html.lower()
    for needle in ("http://", "https://", "url(", "@import", "//cdn", "ftp://"):
        assert needle not in lowered, needle
    page = parse(path)
    for banned in ("link", "iframe", "object", "embed", "base", "audio", "video", "source"):
        assert not page.find(banned), banned
    scripts = page.find("script")
    assert len(scripts) == 1 and "src" not in scripts[0].attrs
    ids = {t.attrs["id"] for t in page.tags if "id" in t.attrs}
    for tag in page.tags:
        for attr, value in tag.attrs.items():
            if attr == "src" or attr == "srcset" or attr == "poster":
                assert tag.name == "img" and attr == "src", (tag.name, attr)
                decode(value)
            if attr == "href":
                assert tag.name == "a"
                if value.startswith("#"):
                    assert value[1:] in ids, value
                else:
                    assert ":" not in value and not value.startswith("/"), value
                    from urllib.parse import unquote

                    assert (path.parent / unquote(value)).is_file(), value
            if attr.startswith("on"):
                raise AssertionError(f"inline handler {attr} on <{tag.name}>")
    csp = [t for t in page.find("meta") if t.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0].attrs["content"]
    return page
