"""Jobs without Redis run once after the response (webapp/adapters/queue.py): at the server's close(), or on
werkzeug's server — which skips close() when the client resets the connection — once every byte of the answer has
been handed over; never twice, and never before the client has the whole answer."""

from __future__ import annotations

import pytest

from webapp.adapters.queue import _ENVIRON_KEY, AfterResponse

WERKZEUG = "Werkzeug/3.1"


def wsgi_app(chunks: list[bytes], ran: list[str], *, length: int | None):
    """A WSGI app whose request left one job; it notes when each chunk is taken and when the job runs."""

    def body():
        for chunk in chunks:
            ran.append(f"chunk {chunk.decode()}")
            yield chunk

    def app(environ, start_response):
        environ[_ENVIRON_KEY] = [lambda: ran.append("job")]
        start_response("200 OK", [] if length is None else [("Content-Length", str(length))])
        return body()

    return AfterResponse(app)


def serve(app, server: str, *, close: bool = True, read: int | None = None) -> None:
    """A server's loop: take the body's chunks (all of them, or ``read``), then close it — or not."""
    body = app({"SERVER_SOFTWARE": server, "REQUEST_METHOD": "GET"}, lambda status, headers, exc_info=None: None)
    for n, _chunk in enumerate(body):
        if read is not None and n + 1 >= read:
            break
    if close and hasattr(body, "close"):
        body.close()


@pytest.mark.parametrize("server", ["gunicorn/23.0.0", WERKZEUG])
def test_the_job_runs_once_after_the_whole_answer_and_its_close(server):
    ran: list[str] = []
    serve(wsgi_app([b"ab", b"cd"], ran, length=4), server)
    assert ran == ["chunk ab", "chunk cd", "job"]


def test_on_werkzeug_the_job_runs_when_the_answer_is_all_handed_over_even_if_close_never_comes():
    ran: list[str] = []
    serve(wsgi_app([b"ab", b"cd"], ran, length=4), WERKZEUG, close=False)
    assert ran == ["chunk ab", "chunk cd", "job"]


@pytest.mark.parametrize("server", ["gunicorn/23.0.0", WERKZEUG])
def test_a_body_cut_short_runs_the_job_at_close(server):
    ran: list[str] = []
    serve(wsgi_app([b"ab", b"cd"], ran, length=4), server, read=1)
    assert ran == ["chunk ab", "job"]


@pytest.mark.parametrize("length", [None, 10])
def test_on_werkzeug_an_answer_of_unknown_or_unreached_length_waits_for_close(length):
    """A HEAD answer says the GET's length and sends no body; a streamed answer says none: the server still has
    bytes to write after the last chunk, so the job must not run before them."""
    ran: list[str] = []
    app = wsgi_app([b"ab"], ran, length=length)
    body = app({"SERVER_SOFTWARE": WERKZEUG}, lambda status, headers, exc_info=None: None)
    assert list(body) == [b"ab"] and ran == ["chunk ab"]
    body.close()
    assert ran == ["chunk ab", "job"]
