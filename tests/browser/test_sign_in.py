"""Signing in through the URL fragment, and what a bad link says."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Demo, NewPage


def test_service_link_signs_in_and_leaves_no_token_in_the_address(
    demo: Demo, new_page: NewPage
) -> None:
    page = new_page()
    page.goto(demo.info["dashboard_url"])
    expect(page.get_by_text("online").first).to_be_visible()
    assert "token" not in page.url
    page.reload()  # the sign-in lasts for the tab's session
    expect(page.get_by_text("online").first).to_be_visible()


def test_a_stale_link_says_to_sign_in_again_in_plain_words(demo: Demo, new_page: NewPage) -> None:
    page = new_page()
    page.goto(demo.root + "/#token=not-a-real-token")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("sign in again")
    expect(alert).not_to_contain_text("detail")
