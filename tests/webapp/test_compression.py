"""Answers are compressed for browsers that accept it; static files carry a content hash and are cached for a year."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import brotli
import pytest

from tests.factories import PASSWORD
from webapp.static_files import IMMUTABLE, SHORT

STATIC = Path(__file__).resolve().parents[2] / "static"


def _hash_of(relative: str) -> str:
    return hashlib.sha256((STATIC / relative).read_bytes()).hexdigest()[:12]


@pytest.mark.parametrize(("encoding", "decode"), [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_the_record_page_is_compressed_for_a_browser_that_accepts_it(client, world, auth, encoding, decode):
    auth.login(world.parent.phone, PASSWORD)
    url = f"/parent/students/{world.students_a[0].id}"
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": f"{encoding}, deflate"})
    assert plain.headers.get("Content-Encoding") is None
    assert packed.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in packed.headers["Vary"]
    body = decode(packed.get_data())
    assert world.students_a[0].name in body.decode()
    assert len(packed.get_data()) * 3 < len(body)  # a page of repeated markup shrinks well


def test_brotli_is_preferred_over_gzip(client):
    page = client.get("/login", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert page.headers["Content-Encoding"] == "br"
    assert "<form" in brotli.decompress(page.get_data()).decode()


def test_stylesheet_and_scripts_are_compressed(client):
    css = client.get("/static/css/app.css", headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(css.get_data()) == (STATIC / "css/app.css").read_bytes()


def test_static_urls_on_pages_carry_the_content_hash_of_the_file(client):
    page = client.get("/login").get_data(as_text=True)
    urls = re.findall(r'href="(/static/css/app\.css[^"]*)"', page)
    assert urls == [f"/static/css/app.css?v={_hash_of('css/app.css')}"]


def test_a_fingerprinted_static_file_is_cached_for_a_year_and_never_revalidated(client):
    answer = client.get(f"/static/js/app.js?v={_hash_of('js/app.js')}")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    assert "Set-Cookie" not in answer.headers


@pytest.mark.parametrize("query", ["", "?v=0123456789ab"], ids=["no hash", "an older release's hash"])
def test_a_static_url_without_the_current_hash_is_cached_briefly(client, query):
    answer = client.get(f"/static/js/app.js{query}")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == SHORT
    assert answer.get_data() == (STATIC / "js/app.js").read_bytes()


def test_pages_with_personal_data_are_still_never_cached(client, world, auth):
    auth.login(world.parent.phone, PASSWORD)
    page = client.get(f"/parent/students/{world.students_a[0].id}", headers={"Accept-Encoding": "br"})
    assert page.headers["Cache-Control"] == "private, no-store"
