"""What the browser tests and the screenshots do on the dashboard's pages."""

from __future__ import annotations

from typing import Final

from playwright.sync_api import ConsoleMessage, Page

# The pixels of the chart's canvas that are not transparent: uPlot draws axes, grid and series there.
DRAWN_PIXELS: Final = """() => {
  const canvas = document.querySelector("#latency-chart canvas");
  if (!canvas || !canvas.width || !canvas.height) { return 0; }
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let alpha = 3; alpha < data.length; alpha += 4) { if (data[alpha] !== 0) { drawn += 1; } }
  return drawn;
}"""


class PageProblems:
    """Every script error and console error (a CSP refusal is one) a page met."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console error: {message.text}")


def chart_points(page: Page, window: str = "24h") -> int:
    """How many points the chart of this window was drawn with, once it was (waits for it)."""
    page.wait_for_selector(f'#latency-chart[data-window="{window}"] canvas')
    return int(page.get_attribute("#latency-chart", "data-points") or "0")


def drawn_pixels(page: Page) -> int:
    """How many pixels of the chart's canvas are drawn."""
    pixels: int = page.evaluate(DRAWN_PIXELS)
    return pixels
