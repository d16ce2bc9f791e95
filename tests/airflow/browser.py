"""Headless Chromium from the OS packages (/usr/bin/chromium) driven by Playwright, logged in
through the Airflow UI's login page; and what the dashboard page shows, read off the DOM."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"  # Debian's package (setup.sh); Playwright's download is not used

# Filled SVG shapes below the legend (the grid starts 40 px down), with an area: the bars and
# point symbols ECharts drew for data; axes and grid lines have no fill, legend icons sit above.
DRAWN_MARKS_JS = """el => Array.from(el.querySelectorAll('svg path')).filter(p => {
  const fill = p.getAttribute('fill');
  if (!fill || fill === 'none' || fill === 'transparent') return false;
  const box = p.getBBox();
  return box.width > 0 && box.height > 0 && box.y + box.height / 2 > 40;
}).length"""

TABLE_JS = """el => Array.from(el.querySelectorAll('tbody tr'))
  .map(tr => Array.from(tr.cells).map(td => td.textContent))"""


@contextmanager
def logged_in_page(base_url: str, password: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Chromium's sandbox cannot start as root (CI runs as root); elsewhere it stays on.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(f"{base_url}/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.locator("button[type=submit]").click()
            page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)
            yield page
        finally:
            browser.close()


def wait_loaded(view, times: int = 1) -> None:
    """The dashboard page (a Page or a Frame) finished its `times`-th load of the figures."""
    # document.body is null while the frame navigates: not loaded yet.
    view.wait_for_function(
        f"document.body !== null && Number(document.body.dataset.loaded || 0) >= {times}",
        timeout=60_000,
    )


def table_rows(view, table_id: str) -> list[list[str]]:
    return view.locator(f"#{table_id}").evaluate(TABLE_JS)


def drawn_marks(view) -> dict[str, tuple[int, int]]:
    """Per chart: (data points the page gave ECharts, data marks drawn in its SVG)."""
    charts = view.locator(".chart")
    return {
        chart.get_attribute("id"): (
            int(chart.get_attribute("data-points") or 0),
            chart.evaluate(DRAWN_MARKS_JS),
        )
        for chart in charts.all()
    }
