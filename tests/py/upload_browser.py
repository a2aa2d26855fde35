"""Drives sdgx's upload page in headless Chromium (Debian's chromium and chromium-driver, by
Selenium WebDriver) as an agency without a server would, step by step.

Usage: upload_browser.py <dashboard base URL> <agency token> <good.csv> <bad.csv> <other agency's manifest.toml> <screenshot dir>

After each step it prints one JSON line of what it saw and waits for a line on stdin before
the next one (so the test can check the store in between); exits 1 with the reason on any
mismatch."""
import json
import sys

from chromium import fail, headless
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

base, token, good, bad, other_manifest, shots = sys.argv[1:7]


def step(name, **seen):
    print(json.dumps({"step": name, **seen}), flush=True)
    if sys.stdin.readline().strip() != "go":
        fail(f"after {name}: the test did not say go")


def wait_for(css):
    return WebDriverWait(driver, 60).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def phone(name):
    """A screenshot at a 390 px wide phone viewport; fails if the page is wider than it."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        width = driver.execute_script("return window.innerWidth")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        if width != 390 or overflow > 0:
            fail(f"{name}: at a {width}px viewport the page is {overflow}px too wide")
        driver.save_screenshot(f"{shots}/{name}-phone.png")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def fill_form(data, dataset=None, manifest=None):
    driver.get(base + "/dashboard/upload")
    driver.find_element(By.ID, "data").send_keys(data)
    if manifest:
        driver.find_element(By.ID, "manifest").send_keys(manifest)
    if dataset:
        Select(driver.find_element(By.ID, "dataset")).select_by_value(dataset)
        driver.find_element(By.ID, "title").send_keys("Asylum decisions and refugees")
        Select(driver.find_element(By.ID, "periodicity")).select_by_value("A")
        driver.find_element(By.ID, "start").send_keys("2021")
        driver.find_element(By.ID, "end").send_keys("2023")
    driver.find_element(By.ID, "check").click()


driver = headless()
try:
    # Log in with the agency token: it lands on the upload page, and nowhere else is open.
    driver.get(base + "/dashboard/login")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login").click()
    wait_for("#data")
    if not driver.current_url.endswith("/dashboard/upload"):
        fail(f"an agency login went to {driver.current_url}")
    for page in ("/dashboard", "/dashboard/coverage", "/dashboard/publications"):
        driver.get(base + page)
        text = wait_for("[role=alert]").text
        if "may only upload" not in text or driver.find_elements(By.ID, "headline-value"):
            fail(f"{page} shown to an agency token: {text!r}")

    # A good file with the form: the check's summary, then the submit's acknowledgement.
    fill_form(good, dataset="asylum-decisions")
    wait_for("#summary")
    seen = {
        "rows": int(driver.find_element(By.ID, "summary-rows").text),
        "dataset": driver.find_element(By.ID, "summary-dataset").text,
        "duplicate": driver.find_element(By.ID, "summary-duplicate").text,
        "impact_rows": len(driver.find_elements(By.CSS_SELECTOR, "#impact tbody tr")),
        "submit": len(driver.find_elements(By.ID, "submit")),
    }
    driver.save_screenshot(f"{shots}/upload-check.png")
    phone("upload-check")
    step("checked", **seen)
    driver.find_element(By.ID, "submit").click()
    ack = wait_for("#ack").text
    seen = {"ack": ack, "publication_id": driver.find_element(By.ID, "publication-id").text, "store_version": int(driver.find_element(By.ID, "store-version").text)}
    driver.save_screenshot(f"{shots}/upload-submitted.png")
    phone("upload-submitted")
    step("submitted", **seen)

    # A bad file: its errors, by row, column and value.
    fill_form(bad, dataset="asylum-decisions")
    wait_for("#errors")
    errors = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")[:3]] for tr in driver.find_elements(By.CSS_SELECTOR, "#error-list tbody tr")]
    heading, summary = driver.find_element(By.ID, "errors").text.split("\n")[:2]
    driver.save_screenshot(f"{shots}/upload-errors.png")
    phone("upload-errors")
    kept = {"title": driver.find_element(By.ID, "title").get_attribute("value"), "dataset": Select(driver.find_element(By.ID, "dataset")).first_selected_option.get_attribute("value")}
    step("rejected", heading=heading, summary=summary, errors=errors, kept=kept)

    # Another agency's dataset: by its manifest file, then by a dataset the form does not offer
    # (added to the list by script, as a forged form would).
    fill_form(good, manifest=other_manifest)
    by_manifest = wait_for("#errors").text
    driver.get(base + "/dashboard/upload")
    offered = [o.get_attribute("value") for o in Select(driver.find_element(By.ID, "dataset")).options]
    driver.execute_script("var o=document.createElement('option');o.value='health';o.text='health';document.getElementById('dataset').appendChild(o);")
    driver.find_element(By.ID, "data").send_keys(good)
    Select(driver.find_element(By.ID, "dataset")).select_by_value("health")
    for f, v in (("title", "Health"), ("start", "2021"), ("end", "2023")):
        driver.find_element(By.ID, f).send_keys(v)
    driver.find_element(By.ID, "check").click()
    by_form = wait_for("#errors").text
    driver.save_screenshot(f"{shots}/upload-refused.png")
    step("refused", by_manifest=by_manifest, by_form=by_form, offered=offered)
finally:
    driver.quit()
