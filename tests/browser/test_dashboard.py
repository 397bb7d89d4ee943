"""The dashboard in a real headless Chromium against the whole platform on a seeded replay,
then a live market of ticks at wall-clock time: sign in, a position opens and its P&L moves
without a reload, half of it is closed and the fill shows, decisions are approved and rejected
inside their window, a lockout counts down; every request stays on this machine and the console
stays clean. Each page is saved as a screenshot under tests/browser/artifacts/.

The tests run in file order on one page (module-scoped platform and browser)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
from robson_kit.testing import ADMIN_HEADERS, wait_until

from .conftest import LOCAL_HOSTS, UI
from .platform import ACCOUNT, LOCKED

BTC, ETH = "BTCUSDT", "ETHUSDT"


def number(text: str) -> Decimal:
    """A figure as the page shows it ("+1,234.56", "−0.40%") back to a Decimal."""
    cleaned = text.replace(",", "").replace("%", "").replace("\u2212", "-").replace("+", "").strip()
    return Decimal(cleaned)


def seconds(clock: str) -> int:
    h, m, s = (int(x) for x in clock.split(":"))
    return h * 3600 + m * 60 + s


async def row_text(ui: UI, selector: str) -> str:
    return (await ui.page.locator(selector).first.inner_text()).strip()


async def wait_text_changes(ui: UI, selector: str, before: str) -> str:
    await ui.page.wait_for_function(
        "([sel, before]) => { const n = document.querySelector(sel); return n && n.textContent.trim() !== before; }",
        arg=[selector, before])
    return await row_text(ui, selector)


async def test_sign_in_as_local_operator_opens_the_overview_with_every_service_ready(ui: UI) -> None:
    await ui.goto("login")
    await ui.page.wait_for_selector("#operator-login")
    await ui.shot("01-login", full_page=False)
    await ui.page.click("#operator-login")
    await ui.page.wait_for_selector(f"section[data-account='{ACCOUNT}']")
    assert "local-operator" in await ui.page.inner_text("#who")
    ready = await ui.page.locator("td[data-label='status'] .pill.ok").count()
    assert ready == 6
    await ui.page.evaluate("() => { window.__signedInPage = true; }")  # gone if anything reloads the page


async def test_positions_page_shows_a_new_position_and_its_pnl_moving_without_reload(ui: UI) -> None:
    await ui.goto("positions")
    await ui.page.wait_for_selector("#open-positions")
    await ui.platform.webhook("manual", BTC, "buy", ui.market.prices[BTC])
    row = f"tr[data-trader='manual'][data-symbol='{BTC}']"
    await ui.page.wait_for_selector(f"{row} .close-half")
    entry = number(await row_text(ui, f"{row} td[data-label='entry']"))

    up = (entry * Decimal("1.01")).quantize(Decimal("0.01"))
    before = await row_text(ui, f"{row} .upnl")
    ui.market.set(BTC, up)
    await ui.page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent.replace(/,/g, '') === want",
        arg=[f"{row} .mark", str(up)])
    gain = await row_text(ui, f"{row} .upnl")
    assert gain != before and number(gain) > 0

    down = (entry * Decimal("0.995")).quantize(Decimal("0.01"))
    ui.market.set(BTC, down)
    loss = await wait_text_changes(ui, f"{row} .upnl", gain)
    await ui.page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent.replace(/,/g, '') === want",
        arg=[f"{row} .mark", str(down)])
    loss = await row_text(ui, f"{row} .upnl")
    assert number(loss) < 0
    assert await ui.page.evaluate("() => window.__signedInPage === true"), "the page was reloaded"
    ui.market.set(BTC, entry)
    await ui.shot("02-positions")


async def test_closing_half_shows_the_fill_and_halves_the_quantity(ui: UI) -> None:
    row = f"tr[data-trader='manual'][data-symbol='{BTC}']"
    held_before = (await row_text(ui, f"{row} .qty")).split("/")
    await ui.page.click(f"{row} .close-half")
    await ui.page.wait_for_selector(f"{row} .closes .fill")
    fill = await row_text(ui, f"{row} .closes .fill")
    assert "@" in fill and "MANUAL_CLOSE" in fill
    left, entered = (number(x) for x in (await row_text(ui, f"{row} .qty")).split("/"))
    assert entered == number(held_before[1])
    assert left < entered and abs(left * 2 - entered) <= Decimal("0.00002")
    await ui.page.wait_for_selector(".toast.ok >> text=Filled")
    await ui.shot("03-positions-half-closed")


async def test_moving_the_stop_to_more_risk_shows_the_validation_verdict(ui: UI) -> None:
    row = f"tr[data-trader='manual'][data-symbol='{BTC}']"
    stop = number(await row_text(ui, f"{row} .stop"))
    ui.watch.expect("/stop-loss", 422)
    await ui.page.fill(f"{row} .stop-input", str(stop - Decimal("500")))
    await ui.page.click(f"{row} .move-stop")
    verdict = ui.page.locator(f"{row} .violations li").first
    await verdict.wait_for()
    assert "STOP_INCREASES_RISK" in await verdict.inner_text()


async def test_approvals_approve_one_within_its_window_and_reject_another(ui: UI) -> None:
    for symbol in (BTC, ETH):
        await ui.platform.webhook("approver", symbol, "buy", ui.market.prices[symbol])
    await ui.goto("approvals")
    await ui.page.wait_for_function("() => document.querySelectorAll('.approval').length >= 2")
    cards = ui.page.locator(".approval")
    ids = {await cards.nth(i).get_attribute("data-decision-id"):
           await cards.nth(i).locator("h3").inner_text() for i in range(await cards.count())}
    first = await row_text(ui, ".approval .countdown")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", first)
    await wait_text_changes(ui, ".approval .countdown", first)  # it counts down, live
    await ui.shot("04-approvals-pending")

    approve = next(i for i, title in ids.items() if BTC in title)
    reject = next(i for i, title in ids.items() if ETH in title)
    await ui.page.click(f".approval[data-decision-id='{approve}'] .approve")
    await ui.page.wait_for_selector(f"#resolved tr[data-decision-id='{approve}']")
    await ui.page.fill(f".approval[data-decision-id='{reject}'] .reject-reason", "too late in the day")
    await ui.page.click(f".approval[data-decision-id='{reject}'] .reject")
    await ui.page.wait_for_selector(f"#resolved tr[data-decision-id='{reject}']")

    approved = await ui.platform.get("decision", f"/decisions/{approve}")
    rejected = await ui.platform.get("decision", f"/decisions/{reject}")
    assert (approved["status"], approved["resolved_by"]) == ("APPROVED", "local-operator")
    assert (rejected["status"], rejected["resolved_by"]) == ("USER_REJECTED", "local-operator")
    assert rejected["resolution_note"] == "too late in the day"
    assert "local-operator" in await row_text(ui, f"#resolved tr[data-decision-id='{approve}'] td[data-label='by']")
    await ui.shot("05-approvals-resolved")


async def test_overview_shows_a_trade_frequency_lockout_counting_down(ui: UI) -> None:
    await ui.platform.webhook("burst", BTC, "buy", ui.market.prices[BTC])

    async def first_judged() -> bool:
        found = await ui.platform.get("entry_gate", "/decisions", account_id=LOCKED)
        return len(found["items"]) >= 1

    await wait_until(first_judged, timeout=30, message="the first burst entry judged")
    await ui.platform.webhook("burst", ETH, "buy", ui.market.prices[ETH])
    await ui.goto("overview")
    countdown = f"section[data-account='{LOCKED}'] tr.lockout .countdown"

    async def locked() -> bool:
        risk = await ui.platform.get("entry_gate", f"/accounts/{LOCKED}/risk")
        return bool(risk["lockouts"])

    await wait_until(locked, timeout=30, message="the lockout set")
    await ui.page.wait_for_selector(countdown, timeout=20_000)  # the overview refreshes itself
    assert "TRADE_FREQUENCY" in await row_text(ui, f"section[data-account='{LOCKED}'] tr.lockout")
    first = await row_text(ui, countdown)
    assert re.fullmatch(r"00:(0\d:\d\d|10:00)", first)  # a 10-minute cooldown
    await wait_text_changes(ui, countdown, first)
    await ui.page.wait_for_timeout(6000)  # past the overview's own refresh (every 5 s)
    later = await row_text(ui, countdown)
    assert seconds(later) < seconds(first), "the countdown went back up after a refresh"
    await ui.shot("06-overview")


async def test_chart_draws_candles_markers_and_moves_the_stop_line_with_the_position(ui: UI) -> None:
    await ui.goto(f"chart/{BTC}/5m")
    await ui.page.wait_for_selector("#chart canvas")
    await ui.page.wait_for_function("() => Number(document.querySelector('#chart').dataset.lines) >= 2")
    assert int(await ui.page.get_attribute("#chart", "data-markers") or 0) >= 1
    legend = await row_text(ui, "#chart-legend")
    assert "candles" in legend and "EMA 5 / 13" in legend

    positions: list[dict[str, Any]] = await ui.platform.get("position", "/positions", status="open",
                                                           trader_id="manual", symbol=BTC)
    manual = positions[0]
    raised = (Decimal(manual["stop_loss"]) + Decimal("100")).quantize(Decimal("0.01"))
    async with httpx.AsyncClient(timeout=30, headers=ADMIN_HEADERS) as http:
        response = await http.put(f"{ui.platform.url('position')}/positions/{manual['position_id']}/stop-loss",
                                  json={"price": str(raised)})
        assert response.status_code == 200, response.text
    await ui.page.wait_for_function(
        "(want) => (document.querySelector('#chart').dataset.stops || '').split(' ').some((s) => Number(s) === want)",
        arg=float(raised))
    await ui.page.mouse.move(0, 0)
    await ui.shot("07-chart", full_page=False)


async def test_decisions_page_shows_reasoning_validation_gate_checks_and_position(ui: UI) -> None:
    await ui.goto("decisions")
    await ui.page.wait_for_selector("tr[data-decision-id]")
    await ui.page.locator("tr[data-decision-id]", has_text="manual").first.click()
    detail = ui.page.locator("#decision-detail")
    await detail.locator("text=ALLOW_ENTRY").wait_for()
    text = await detail.inner_text()
    assert "Reasoning" in text and "ATR" in text and "passed" in text
    assert await detail.locator("tr").count() >= 10  # every gate check, one row each
    assert "LONG" in (await detail.locator("h3:has-text('Position') + p").inner_text())
    await ui.shot("08-decisions")


async def test_performance_page_shows_metrics_and_opens_a_backtest_report(ui: UI) -> None:
    await ui.goto("performance")
    await ui.page.wait_for_selector(f"td:has-text('account {ACCOUNT}')")
    await ui.page.click(".open-report")
    await ui.page.wait_for_selector("#backtest-view pre")
    assert "ema_cross" in await ui.page.inner_text("#backtest-view")
    await ui.shot("09-performance")


async def test_phone_sized_screen_in_both_themes_fits_without_sideways_scrolling(ui: UI) -> None:
    await ui.page.set_viewport_size({"width": 390, "height": 844})
    for theme in ("dark", "light"):
        if await ui.page.evaluate("() => document.documentElement.dataset.theme") != theme:
            await ui.page.click("#theme")
        for page in ("positions", "overview"):
            await ui.goto(page)
            await ui.page.wait_for_selector("td[data-label='trader'], section[data-account]")
            width = await ui.page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
            assert width[0] <= width[1] + 1, f"{page} is {width[0]} px wide on a {width[1]} px screen"
            await ui.shot(f"10-phone-{page}-{theme}")
    await ui.page.set_viewport_size({"width": 1440, "height": 900})


async def test_every_request_stayed_on_this_machine_and_the_console_stayed_clean(ui: UI) -> None:
    assert ui.watch.urls, "the page made no request at all"
    assert ui.watch.hosts <= LOCAL_HOSTS, f"requests left the machine: {ui.watch.hosts - LOCAL_HOSTS}"
    assert ui.watch.unexpected_errors() == []
