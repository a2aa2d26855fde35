"""Prints sdgx's HTML report to A4 PDF in headless Chromium and screenshots the report and the
dashboard at a laptop's width (1280 px) and a phone's (390 px), in English, French and Russian.

Usage: print_check.py <report-en.html> <report-fr.html> <report-ru.html> <dashboard base URL> <reader token> <max pages> <output dir>
Checks: the English report prints to at most <max pages> A4 pages (counted with pypdf); at
390 px neither page scrolls sideways; the visible text shows labels, not codes; lang=fr gives
French and lang=ru Russian. Prints one JSON line with what it saw; exits 1 with the reason on
any mismatch."""
import base64
import json
import sys
from io import BytesIO

from pypdf import PdfReader
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

report_en, report_fr, report_ru, base, token, max_pages, out = sys.argv[1:8]
max_pages = int(max_pages)

# Codes that must not show where a person reads labels.
CODES = ("not_started", "in_progress", "income_wealth_quantile", "migratory_status", "obs_status", "conf_status", "SI_POV_NAHC", "MS_MIGRANT")


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
    opts.add_argument(a)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
seen = {}


def visible_text():
    # The collapsed technical definitions and the appendix are for specialists; the body is not.
    return driver.execute_script(
        "var c=document.body.cloneNode(true);c.querySelectorAll('details,.appendix,code,script').forEach(function(e){e.remove()});return c.innerText;"
    )


def check_labels(where):
    text = visible_text()
    found = [c for c in CODES if c in text] + (["PT (unit code)"] if ">PT<" in driver.page_source else [])
    if found:
        fail(f"{where}: codes where labels belong: {found}")


def at_width(width, name):
    driver.set_window_size(width, 900)
    # The window's inner width is what a phone of that width shows.
    inner = driver.execute_script("return window.innerWidth")
    driver.set_window_size(width + (width - inner), 900)
    wide = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    if wide > 0:
        fail(f"{name} at {width} px: the page scrolls sideways by {wide} px")
    driver.save_screenshot(f"{out}/{name}-{width}.png")


try:
    for lang, path in (("en", report_en), ("fr", report_fr), ("ru", report_ru)):
        driver.get("file://" + path)
        if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != lang:
            fail(f"report {path}: html lang is not {lang}")
        check_labels(f"report ({lang})")
        for w in (1280, 390):
            at_width(w, f"report-{lang}")
        po = PrintOptions()
        po.page_width, po.page_height = 21.0, 29.7
        po.background = True
        pdf = base64.b64decode(driver.print_page(po))
        with open(f"{out}/report-{lang}.pdf", "wb") as f:
            f.write(pdf)
        seen[f"report_{lang}_pages"] = len(PdfReader(BytesIO(pdf)).pages)
    if seen["report_en_pages"] > max_pages:
        fail(f"the report prints to {seen['report_en_pages']} A4 pages, more than {max_pages}")
    driver.get("file://" + report_fr)
    if "Proportion des indicateurs ODD" not in driver.find_element(By.TAG_NAME, "h2").text:
        fail("the French report's first figure is not in French")

    driver.set_window_size(1280, 900)
    driver.get(base + "/dashboard/login")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.ID, "headline-value")))
    for lang, word in (("en", "Headline"), ("fr", "Indicateur phare"), ("ru", "Основной показатель")):
        for page in ("/dashboard", "/dashboard/coverage", "/dashboard/indicators"):
            driver.get(f"{base}{page}?view=provisional&lang={lang}")
            if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != lang:
                fail(f"dashboard {page}?lang={lang}: html lang is not {lang}")
            if word not in driver.find_element(By.TAG_NAME, "nav").text:
                fail(f"dashboard {page}?lang={lang}: the navigation lacks {word!r}")
            check_labels(f"dashboard {page} ({lang})")
            name = "dashboard" + page.replace("/dashboard", "").replace("/", "-") + f"-{lang}"
            for w in (1280, 390):
                at_width(w, name)
    # The language links keep the page and the view.
    driver.get(f"{base}/dashboard/coverage?view=provisional")
    driver.find_element(By.CSS_SELECTOR, "#languages a[hreflang=fr]").click()
    WebDriverWait(driver, 30).until(EC.url_contains("lang=fr"))
    if "/dashboard/coverage" not in driver.current_url or "view=provisional" not in driver.current_url:
        fail(f"the French link went to {driver.current_url}")
    seen["switcher"] = driver.current_url.split("/dashboard", 1)[1]
finally:
    driver.quit()
print(json.dumps(seen))
