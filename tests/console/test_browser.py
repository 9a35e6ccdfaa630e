"""The console in a real chromium against a real ``dialer`` service and the simulated Asterisk.

Each operation of the lifecycle table is clicked through, the refused ones too (the problem
document's text must reach the operator), and a viewer's read-only view is checked. No page may
log a console error or throw (checked by the ``console`` fixture). Screenshots are kept in
``.artefacts/console/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import FilePayload, Page, expect

from tests.console.conftest import PHONE, Console, Served

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


OPERATIONS = ("startstop", "pause", "resume", "reset", "force", "upload", "download", "delete")


def _notice(page: Page) -> Any:
    return page.locator("#notices .notice").first


async def _badge(page: Page, state: str) -> None:
    await expect(page.locator("#campaign-state")).to_have_text(state, timeout=8000)


async def _open(page: Page, campaign: dict[str, Any]) -> None:
    await page.get_by_role("link", name=campaign["name"]).click()
    await expect(page.locator("#campaign-title")).to_have_text(campaign["name"])
    await page.locator("#facts [data-fact=pacing]").wait_for()


async def test_sign_in_and_the_live_campaign_list(console: Console, served: Served) -> None:
    running = await served.campaign(60, pacing_mode="predictive")
    await served.call("POST", f"/campaigns/{running['id']}/start")
    waiting = await served.campaign(5)
    page = await console.page()
    await page.goto("/console/")
    await expect(page.get_by_label("API token")).to_be_focused()
    await page.get_by_label("API token").fill("not-a-token")
    await page.get_by_label("API token").press("Enter")
    await expect(_notice(page)).to_contain_text("unknown or revoked token")
    await page.get_by_label("API token").fill(served.tokens.owner)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#who")).to_have_text(f"{served.tokens.owner_name} · ops")
    row = page.locator(f"tr[data-campaign='{running['id']}']")
    await expect(row.locator("td").nth(1)).to_have_text("running")
    await expect(row.locator("td").nth(2)).to_have_text("predictive")
    await expect(row.locator("td").nth(4)).to_have_text(re.compile(r"^(—|\d+\.\d%) / 3\.0%$"))
    await expect(row.locator("td").nth(3)).not_to_have_text("0", timeout=15000)  # calls placed
    # Live: a change made elsewhere shows within one poll (2 s) and a little.
    other = page.locator(f"tr[data-campaign='{waiting['id']}'] td").nth(1)
    await expect(other).to_have_text("ready")
    await served.call("POST", f"/campaigns/{waiting['id']}/start")
    await expect(other).to_have_text("running", timeout=4000)
    # The token stays out of URLs and cookies; it lives in this tab's session storage.
    assert served.tokens.owner not in page.url
    assert await page.context.cookies() == []
    stored = await page.evaluate("sessionStorage.getItem('dialer.console.token')")
    assert stored == served.tokens.owner
    await console.shot(page, "list-1280x800")
    await page.set_viewport_size(PHONE)
    await console.shot(page, "list-390x844")
    await served.call("POST", f"/campaigns/{waiting['id']}/stop")
    await served.call("POST", f"/campaigns/{running['id']}/stop")
    assert console.refusals == [f"{served.base}/v1/me"]  # the bad token
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API token")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0


async def _download(page: Page, fmt: str, campaign_id: int) -> int:
    await page.get_by_role("button", name="Download…").click()
    await page.locator(f"#dlg-download input[value={fmt}]").check()
    async with page.expect_download() as info:
        await page.locator("#dlg-download button[type=submit]").click()
    download = await info.value
    assert download.suggested_filename == f"campaign-{campaign_id}.{fmt}"
    path = await download.path()
    return path.stat().st_size


async def _pause(page: Page, category: str, text: str) -> None:
    await page.get_by_role("button", name="Pause…").click()
    await page.get_by_label("Reason category").select_option(category)
    await page.get_by_label("What happened").fill(text)
    await page.get_by_role("button", name="Pause now").click()


async def _reset_all_eight(page: Page) -> None:
    await page.get_by_role("button", name="Reset…").click()
    dialog = page.locator("#dlg-reset")
    await dialog.get_by_label("From date").fill("2020-01-01")
    await dialog.get_by_label("To date").fill("2020-01-31")
    await dialog.get_by_label("Status").select_option("done")
    await dialog.get_by_label("Reason").fill("no such reason")
    await dialog.get_by_label("Dispositions").fill("no_answer, busy")
    await dialog.get_by_label("Priority").fill("7")
    await dialog.get_by_label("Agent").fill("nobody")
    await dialog.get_by_label("Skill").fill("none")
    await dialog.get_by_role("button", name="Reset…").click()


async def _confirm(page: Page, expected: str, ok: str) -> None:
    dialog = page.locator("#dlg-confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#confirm-text")).to_contain_text(expected)
    await dialog.get_by_role("button", name=ok).click()


async def test_every_operation_clicked_through(console: Console, served: Served) -> None:
    campaign = await served.campaign(40)
    cid = campaign["id"]
    page = await console.sign_in(served.tokens.owner)
    await _open(page, campaign)
    await _badge(page, "ready")
    for fmt in ("csv", "xlsx", "xml", "pdf"):
        assert await _download(page, fmt, cid) > 0
        await expect(_notice(page)).to_contain_text(f"Downloaded campaign-{cid}.{fmt}")

    await page.get_by_role("button", name="Add data…").click()
    good = served.region_numbers(2)
    csv = f"phone,name\n{good[0]},One\nnot-a-phone,Bad\n{good[1]},Two\n".encode()
    await page.get_by_label("CSV or Excel file").set_input_files(
        files=[FilePayload(name="more.csv", mimeType="text/csv", buffer=csv)]
    )
    await page.get_by_role("button", name="Save").click()
    report = page.locator("#upload-report")
    await expect(report.locator("[data-report=summary]")).to_contain_text("3 rows: 2 added")
    await expect(report.locator("li[data-row='3']")).to_contain_text("row 3")
    await console.shot(page, "upload-report")
    await page.locator("#dlg-upload").get_by_role("button", name="Close").click()
    await expect(_notice(page)).to_contain_text("1 rows rejected")

    await page.get_by_role("button", name="Start").click()
    await _badge(page, "running")
    await expect(page.locator("#op-startstop")).to_have_text("Stop")
    await expect(page.locator("#op-upload")).to_be_disabled()  # not while running
    await _pause(page, "call_quality", "one-way audio on carrier A")
    await _badge(page, "paused")
    await expect(_notice(page)).to_contain_text("Paused (call_quality)")

    await page.get_by_role("button", name="Resume…").click()
    await expect(page.locator("#resume-owner")).to_contain_text(served.tokens.owner_name)
    await page.get_by_label("Review window, minutes").fill("5")
    await page.get_by_label("Max concurrent calls during the review").fill("2")
    await page.get_by_label("Progressive only during the review").check()
    await console.shot(page, "resume-dialog")
    await page.get_by_role("button", name="Approve and resume").click()
    await _badge(page, "running")
    await expect(_notice(page)).to_contain_text(re.compile(r"checklist passed \(\d+ items\)"))
    await expect(page.locator("[data-fact=controlled]")).to_be_visible()

    await page.get_by_role("button", name="Pause history").click()
    await expect(page.locator("[data-pauses=total]")).to_have_text("1 pauses in all.")
    await expect(page.locator("li[data-category=call_quality]")).to_have_text("call quality: 1")
    await page.get_by_role("button", name="Check now").click()
    await expect(page.locator("[data-diag=text]")).not_to_be_empty()

    await page.get_by_role("button", name="Stop").click()
    await _badge(page, "stopped")
    await _reset_all_eight(page)
    await console.shot(page, "reset-confirm")
    await _confirm(page, "records matching from, to, status", "Reset")
    await expect(_notice(page)).to_contain_text("Reset 0 records")
    await _badge(page, "ready")

    await page.get_by_role("button", name="Force complete…").click()
    await _confirm(page, "marked complete", "Force complete")
    await expect(_notice(page)).to_contain_text("was force completed")
    assert await _notice(page).get_attribute("role") == "alert"  # the red box at the top
    await _badge(page, "completed")
    await console.shot(page, "force-completed")

    await page.get_by_role("button", name="Reset…").click()
    await page.locator("#dlg-reset").get_by_role("button", name="Reset…").click()
    await _confirm(page, "every resettable record", "Reset")
    await expect(_notice(page)).to_contain_text(re.compile(r"Reset [1-9]\d* records"))
    await _badge(page, "ready")

    await page.get_by_role("button", name="Delete records…").click()
    await page.locator("#dlg-confirm").get_by_role("button", name="Cancel").click()
    status = await served.call("GET", f"/campaigns/{cid}/status")
    total = sum(status["records"].values())
    assert total == 42
    await page.get_by_role("button", name="Delete records…").click()
    await console.shot(page, "delete-warning")
    await _confirm(page, f"all {total} records", "OK")
    await expect(_notice(page)).to_contain_text(f"Deleted {total} records")
    await expect(page.locator("[data-fact=records] dd")).to_have_text("0 (none)")
    assert console.refusals == []


async def test_refused_moves_show_the_problem(console: Console, served: Served) -> None:
    paused = await served.campaign(10)
    await served.call("POST", f"/campaigns/{paused['id']}/start")
    body = {"category": "logging", "text": "CRM sync broken"}
    await served.call("POST", f"/campaigns/{paused['id']}/pause", json=body)
    page = await console.sign_in(served.tokens.other_ops)
    await _open(page, paused)
    await _badge(page, "paused")
    await page.get_by_role("button", name="Resume…").click()
    await page.get_by_role("button", name="Approve and resume").click()
    await expect(_notice(page)).to_contain_text(
        "Resume refused — Forbidden: only the campaign's resume owner or an admin"
    )
    await _badge(page, "paused")

    lonely = await served.campaign(10, queue="nobody-here")
    await served.call("POST", f"/campaigns/{lonely['id']}/start")
    await served.call("POST", f"/campaigns/{lonely['id']}/pause", json=body)
    page = await console.sign_in(served.tokens.owner)
    await _open(page, lonely)
    await page.get_by_role("button", name="Resume…").click()
    await page.get_by_role("button", name="Approve and resume").click()
    await expect(_notice(page)).to_contain_text("the resume checklist failed")
    checklist = page.locator("#resume-checklist")
    await expect(checklist.locator("[data-item=agents_logged_in]")).to_have_class("bad")
    await expect(checklist.locator("[data-item=schedule_open]")).to_have_class("ok")
    await console.shot(page, "resume-checklist-failed")
    await page.locator("#dlg-resume").get_by_role("button", name="Cancel").click()
    await served.call("POST", f"/campaigns/{lonely['id']}/stop")

    # The view is stale (polling stopped); the server refuses and says why.
    ready = await served.campaign(5)
    await page.get_by_role("link", name="← All campaigns").click()
    await _open(page, ready)
    await _badge(page, "ready")
    await page.evaluate("stopPolling()")
    await served.call("POST", f"/campaigns/{ready['id']}/start")
    await page.get_by_role("button", name="Add data…").click()
    await page.get_by_label("CSV or Excel file").set_input_files(
        files=[FilePayload(name="late.csv", mimeType="text/csv", buffer=b"phone\n")]
    )
    await page.get_by_role("button", name="Save").click()
    await expect(_notice(page)).to_have_text(
        "Add data refused — Conflict: add_data is not allowed while running; "
        "allowed from: ready, completedDismiss"
    )
    await _badge(page, "running")  # the refusal refreshed the screen
    await page.locator("#dlg-upload").get_by_role("button", name="Close").click()
    await page.get_by_role("button", name="Stop").click()
    await _badge(page, "stopped")


async def test_a_viewer_sees_everything_and_can_change_nothing(
    console: Console, served: Served
) -> None:
    campaign = await served.campaign(5)
    page = await console.sign_in(served.tokens.viewer, PHONE)
    await expect(page.locator("#who")).to_contain_text("· viewer")
    await console.shot(page, "viewer-list-390x844")
    await _open(page, campaign)
    for op in OPERATIONS:
        await expect(page.locator(f"#op-{op}")).to_be_disabled()
    await expect(page.locator("#op-hint")).to_contain_text("Read only: the viewer role")
    await page.get_by_role("button", name="Check now").click()
    await expect(page.locator("[data-diag=text]")).to_have_text(
        "the campaign is ready: it places no calls until started or resumed"
    )
    await page.get_by_role("button", name="Show pause history").click()
    await expect(page.locator("[data-pauses=total]")).to_have_text("0 pauses in all.")
    await console.shot(page, "viewer-campaign-390x844")
    # The server agrees: the same move from this token is refused.
    response = await page.evaluate(
        """async (id) => (await fetch(`/v1/campaigns/${id}/start`, {method: "POST",
            headers: {Authorization: `Bearer ${sessionStorage.getItem('dialer.console.token')}`}}
        )).status""",
        campaign["id"],
    )
    assert response == 403


async def test_keyboard_only_sign_in_and_dialog(console: Console, served: Served) -> None:
    campaign = await served.campaign(5)
    await served.call("POST", f"/campaigns/{campaign['id']}/start")
    page = await console.page()
    await page.goto("/console/")
    await page.keyboard.type(served.tokens.owner)  # the token field has the focus
    await page.keyboard.press("Enter")
    await page.locator("#list-view").wait_for(state="visible")
    await page.goto(f"/console/#/campaigns/{campaign['id']}")
    await _badge(page, "running")
    await page.locator("#op-pause").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Reason category")).to_be_focused()
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    await page.keyboard.press("Escape")
    await expect(page.locator("#dlg-pause")).to_be_hidden()
    await _badge(page, "running")
    await served.call("POST", f"/campaigns/{campaign['id']}/stop")
