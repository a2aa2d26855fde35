"""Reads sdgx's XLSX statistical annex as a reader and a printer would: openpyxl for the
workbook's print settings and cells, LibreOffice (headless) for the printed document, pypdf for
its pages and poppler's pdftoppm for pictures of the first pages.

For each workbook in the expectations:
- every sheet prints on A4 (paper size 9), portrait or landscape, fitted to one page wide
  (fitToWidth 1, fitToHeight 0: as many pages down as needed), with a print area, repeated
  header rows (print titles), frozen header rows, a page header or footer that states the
  store version and the page numbers (&P, &N);
- the data tables (every sheet but those listed as without one) have an autofilter;
- some cells wrap their text, in columns no wider than a page allows;
- no cell outside a code column (a header listed in `code_headers`) is exactly a code of
  `codes` (status words, column names, unit codes, agency ids): people read labels;
- every text of `texts` is in some cell, every sheet name of `sheets` is a sheet.
Then the workbook is converted to PDF by LibreOffice (with Carlito for Calibri, so that text is
as wide as in Excel): every page is A4, and the page count is at
most `max_pages`; the first `png_pages` pages are rendered to PNG beside it.

Usage: annex_print.py <expect.json>
Prints one JSON line with what it read (pages per workbook, the PNGs written); exits 1 with the
reason on any mismatch."""
import glob
import json
import os
import subprocess
import sys
import tempfile

import openpyxl
from pypdf import PdfReader

A4 = (595.3, 841.9)  # points


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def check_book(book, common):
    path = book["xlsx"]
    wb = openpyxl.load_workbook(path)
    names = wb.sheetnames
    for s in book["sheets"]:
        if s not in names:
            fail(f"{path}: no sheet {s!r}; sheets are {names}")
    codes = set(common["codes"])
    code_headers = set(book["code_headers"])
    without_filter = set(book["without_autofilter"])
    texts = {t: False for t in book["texts"]}
    wrapped = 0
    for ws in wb.worksheets:
        where = f"{path} sheet {ws.title!r}"
        ps = ws.page_setup
        if str(ps.paperSize) != "9":
            fail(f"{where}: paper size {ps.paperSize!r}, not 9 (A4)")
        if ps.orientation not in ("portrait", "landscape"):
            fail(f"{where}: orientation {ps.orientation!r} is not set")
        if not ws.sheet_properties.pageSetUpPr or not ws.sheet_properties.pageSetUpPr.fitToPage:
            fail(f"{where}: not fitted to pages")
        # fitToWidth's default in the OOXML schema is 1 (writers leave it out), fitToHeight's too.
        width = 1 if ps.fitToWidth is None else ps.fitToWidth
        height = 1 if ps.fitToHeight is None else ps.fitToHeight
        if str(width) != "1" or str(height) != "0":
            fail(f"{where}: fitted to {width} x {height} pages, not 1 wide and any number down")
        if not ws.print_area:
            fail(f"{where}: no print area")
        if not ws.print_title_rows:
            fail(f"{where}: no repeated header rows (print titles)")
        if not ws.freeze_panes:
            fail(f"{where}: no frozen panes")
        if ws.title not in without_filter and not ws.auto_filter.ref:
            fail(f"{where}: no autofilter on its table")
        hf = " ".join(
            part.text or ""
            for side in (ws.oddHeader, ws.oddFooter)
            for part in (side.left, side.center, side.right)
        )
        if str(common["store_version"]) not in hf or "&P" not in hf or "&N" not in hf:
            fail(f"{where}: the page header and footer {hf!r} do not state store version {common['store_version']} and the page numbers")
        # The code columns: those whose header (in the autofilter's first row) is a code header.
        skip = set()
        if ws.auto_filter.ref:
            first = ws[ws.auto_filter.ref.split(":")[0]]
            for cell in ws[first.row]:
                if cell.value in code_headers:
                    skip.add(cell.column)
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                if v is None:
                    continue
                if cell.alignment is not None and cell.alignment.wrap_text:
                    wrapped += 1
                    width = ws.column_dimensions[cell.column_letter].width
                    if width and width > 100:
                        fail(f"{where}: wrapped column {cell.column_letter} is {width} wide")
                if isinstance(v, str):
                    for t in texts:
                        if t in v:
                            texts[t] = True
                    if v in codes and cell.column not in skip:
                        fail(f"{where} {cell.coordinate}: the code {v!r} where a label belongs")
    if wrapped == 0:
        fail(f"{path}: no cell wraps its text")
    missing = [t for t, seen in texts.items() if not seen]
    if missing:
        fail(f"{path}: these texts are in no cell: {missing}")
    return names


def to_pdf(path, outdir):
    # A profile of its own, so that no other LibreOffice (or run of this test) shares it.
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run(
            ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
             "--convert-to", "pdf", "--outdir", outdir, path],
            capture_output=True, text=True, timeout=300,
        )
    pdf = os.path.join(outdir, os.path.splitext(os.path.basename(path))[0] + ".pdf")
    if r.returncode != 0 or not os.path.exists(pdf):
        fail(f"LibreOffice did not convert {path}: {r.stdout}{r.stderr}")
    return pdf


def main():
    # The annex is set in Calibri; without Carlito (its metric-compatible twin) LibreOffice
    # falls back to a wider font and the page count says nothing about Excel's.
    font = subprocess.run(["fc-match", "Calibri"], capture_output=True, text=True).stdout
    if "Carlito" not in font:
        fail(f"Calibri is matched by {font.strip()!r}, not Carlito: install fonts-crosextra-carlito")
    expect = json.load(open(sys.argv[1]))
    out = expect["out"]
    seen = {}
    for book in expect["books"]:
        sheets = check_book(book, expect)
        pdf = to_pdf(book["xlsx"], out)
        pages = PdfReader(pdf).pages
        for i, p in enumerate(pages):
            w, h = sorted((float(p.mediabox.width), float(p.mediabox.height)))
            if abs(w - A4[0]) > 2 or abs(h - A4[1]) > 2:
                fail(f"{pdf} page {i + 1} is {w} x {h} pt, not A4")
        if len(pages) > expect["max_pages"]:
            fail(f"{pdf}: {len(pages)} A4 pages, more than {expect['max_pages']}")
        stem = os.path.splitext(pdf)[0]
        for old in glob.glob(stem + "-*.png"):
            os.remove(old)
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", str(expect["png_pages"]), pdf, stem], check=True)
        pngs = sorted(glob.glob(stem + "-*.png"))
        if len(pngs) < min(expect["png_pages"], len(pages)):
            fail(f"{pdf}: pdftoppm wrote {pngs}")
        seen[book["lang"]] = {"pages": len(pages), "sheets": sheets, "pdf": pdf, "pngs": pngs}
    print(json.dumps(seen))


main()
