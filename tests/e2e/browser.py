"""Steps the browser tests share."""

from __future__ import annotations

from tests.factories import PASSWORD


def sign_in(page, base: str, login: str, password: str = PASSWORD) -> None:
    """Sign in on ``base``'s login page as ``login`` and wait for the page the app lands on."""
    page.goto(f"{base}/login")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
