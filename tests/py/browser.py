"""Opens sdgx's HTML report and dashboard in headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium WebDriver) and checks what a person would see.

Usage: browser.py <report.html> <dashboard base URL> <reader token> <expected headline> <screenshot dir>
Prints one JSON line with what it saw; exits 1 with the reason on any mismatch."""
import json
import sys

from chromium import fail, headless
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

report, base, token, expected, shots = sys.argv[1:6]


driver = headless()
seen = {}
try:
    # The report, from the file.
    driver.get("file://" + report)
    headline = driver.find_element(By.ID, "headline-value").text
    if headline != expected:
        fail(f"report: headline {headline!r}, expected {expected!r}")
    counts = {sel: len(driver.find_elements(By.CSS_SELECTOR, sel)) for sel in ("svg.bars rect.bar", "table.coverage td.yes", "svg.trend circle.point")}
    if any(n == 0 for n in counts.values()):
        fail(f"report: a chart drew nothing: {counts}")
    driver.save_screenshot(f"{shots}/report.png")
    seen["report"] = {"headline": headline, "elements": counts}

    # The dashboard: login first.
    driver.get(base + "/dashboard")
    if not driver.current_url.endswith("/dashboard/login"):
        fail(f"dashboard without a session went to {driver.current_url}, not the login page")
    driver.find_element(By.ID, "token").send_keys("not-a-token")
    driver.find_element(By.ID, "login").click()
    # The click submits the form; the answer is a new page, which may not have arrived yet.
    alert = WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]"))).text
    if "not valid" not in alert:
        fail(f"a wrong token gave {alert!r}")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.ID, "headline-value")))
    if not driver.current_url.endswith("/dashboard"):
        fail(f"login went to {driver.current_url}")
    # The dashboard opens on the official figures; nothing is approved in this federation, so
    # the reader follows the link to the provisional ones.
    provenance = driver.find_element(By.CSS_SELECTOR, ".provenance").text
    if not provenance.startswith("Official figures"):
        fail(f"dashboard: the first page does not say it shows the official figures: {provenance!r}")
    driver.find_element(By.LINK_TEXT, "Show the provisional figures").click()
    WebDriverWait(driver, 30).until(EC.url_contains("view=provisional"))
    WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.ID, "headline-value")))
    headline = driver.find_element(By.ID, "headline-value").text
    if headline != expected:
        fail(f"dashboard: headline {headline!r}, expected {expected!r}")
    bars = len(driver.find_elements(By.CSS_SELECTOR, "svg.bars rect.bar"))
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    if bars == 0 or overflow > 0:
        fail(f"dashboard: {bars} bars, {overflow}px wider than a laptop window")
    driver.save_screenshot(f"{shots}/dashboard.png")
    driver.get(base + "/dashboard/coverage?view=provisional")
    cells = len(driver.find_elements(By.CSS_SELECTOR, "table.coverage td.yes"))
    if cells == 0:
        fail("coverage page: the coverage table shows no breakdown")
    driver.save_screenshot(f"{shots}/coverage.png")
    driver.get(base + "/dashboard/indicators?view=provisional")
    driver.find_element(By.ID, "filter").send_keys("10.7")
    visible = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#indicators tbody tr") if r.is_displayed()]
    if not visible or any("10.7" not in v for v in visible):
        fail(f"the indicator filter shows {visible[:5]}")
    seen["dashboard"] = {"headline": headline, "bars": bars, "heatmap_cells": cells, "filtered": len(visible)}
finally:
    driver.quit()
print(json.dumps(seen))
