"""The CSV of edits: parsing, per-cell validation, path confinement and the content key of a row.

Everything here is pure (files are read, nothing is sent anywhere), so it is unit-tested alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_COLUMNS = ("image", "mask", "prompt")
OPTIONAL_COLUMNS = ("seed", "steps", "guidance", "denoise", "batch_size", "width", "height", "mode")
ALPHA = "alpha"

# column -> (parser, lowest allowed value, highest allowed value); the server checks its own limits too
_NUMBERS: dict[str, tuple[type, float | None, float | None]] = {
    "seed": (int, 0, 2**64 - 1),
    "steps": (int, 1, None),
    "guidance": (float, 0.0, None),
    "denoise": (float, 0.0, 1.0),
    "batch_size": (int, 1, None),
    "width": (int, 1, None),
    "height": (int, 1, None),
}


class RowError(ValueError):
    """A problem with one CSV row; the message names the row number and, where known, the column."""

    def __init__(self, row: int, column: str | None, message: str):
        where = f"row {row}" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {message}")
        self.row = row
        self.column = column
        self.message = message
        self.image = ""  # the row's image cell as written, for the results CSV

    def __reduce__(self) -> tuple:
        """Picklable with its fields (a Ray actor raises it to the driver)."""
        return (RowError, (self.row, self.column, self.message), {"image": self.image})


class CsvFormatError(ValueError):
    """The CSV as a whole cannot be used (no header, a required column missing)."""


@dataclass
class Row:
    """One validated edit. `number` is 1-based over the data rows (the header is not counted)."""

    number: int
    image: Path
    mask: Path | None  # None: the image's alpha channel is the mask
    prompt: str
    settings: dict[str, int | float | str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A file-name-safe stem for this row's outputs: the row number and the image's stem."""
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.image.stem)[:60]
        return f"row{self.number:04d}_{stem}"


@dataclass
class ParsedCsv:
    rows: list[Row]
    errors: list[RowError]
    ignored_columns: list[str]
    total: int


def confine(base: Path, value: str, row: int, column: str) -> Path:
    """The existing file `value` names, relative to `base`; it must stay inside `base` once resolved.

    Rejects `..` escapes, absolute paths outside `base` and symlinks whose target lies outside.
    """
    if not value:
        raise RowError(row, column, "is empty")
    root = base.resolve()
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = root / candidate
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root):
        raise RowError(row, column, f"path '{value}' is outside the CSV's folder {root}")
    if not resolved.exists():
        raise RowError(row, column, f"file '{value}' does not exist")
    if not resolved.is_file():
        raise RowError(row, column, f"'{value}' is not a file")
    return resolved


def parse_number(text: str, column: str, row: int) -> int | float:
    kind, low, high = _NUMBERS[column]
    try:
        value: int | float = int(text) if kind is int else float(text)
    except ValueError:
        raise RowError(row, column, f"'{text}' is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and value != value:  # NaN
        raise RowError(row, column, f"'{text}' is not a number")
    if low is not None and value < low:
        raise RowError(row, column, f"{value} is below the minimum {low}")
    if high is not None and value > high:
        raise RowError(row, column, f"{value} is above the maximum {high}")
    return value


def parse_row(cells: dict[str, str], number: int, base: Path) -> Row:
    """Validate one CSV record (column -> raw text) into a Row, or raise RowError."""
    image = confine(base, cells.get("image", "").strip(), number, "image")
    mask_text = cells.get("mask", "").strip()
    mask = None if mask_text.lower() == ALPHA else confine(base, mask_text, number, "mask")
    settings: dict[str, int | float | str] = {}
    for column in OPTIONAL_COLUMNS:
        text = (cells.get(column) or "").strip()
        if not text:
            continue
        settings[column] = text if column == "mode" else parse_number(text, column, number)
    if ("width" in settings) != ("height" in settings):
        missing = "height" if "width" in settings else "width"
        raise RowError(number, missing, "width and height must be given together (a fixed target crop size)")
    return Row(number=number, image=image, mask=mask, prompt=cells.get("prompt") or "", settings=settings)


def read_csv(path: Path) -> ParsedCsv:
    """Parse the whole CSV; bad rows become RowErrors, the others Rows. Blank lines are skipped."""
    base = path.resolve().parent
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise CsvFormatError(f"{path}: no header line")
        header = [(name or "").strip().lower() for name in reader.fieldnames]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise CsvFormatError(f"{path}: missing required column(s) {', '.join(missing)}; "
                                 f"the header is {', '.join(header)}")
        known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
        ignored = [c for c in header if c not in known]
        rows, errors, number = [], [], 0
        for record in reader:
            cells = {(k or "").strip().lower(): (v if isinstance(v, str) else "") for k, v in record.items()}
            if not any(v.strip() for v in cells.values()):
                continue
            number += 1
            try:
                rows.append(parse_row(cells, number, base))
            except RowError as err:
                err.image = cells.get("image", "").strip()
                errors.append(err)
    return ParsedCsv(rows=rows, errors=errors, ignored_columns=ignored, total=number)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def row_key(image_bytes: bytes, mask_bytes: bytes | None, prompt: str, settings: dict, template: dict) -> str:
    """The resume key of a row: its input files' bytes, its settings and the (overridden) template."""
    material = {
        "image": sha256_bytes(image_bytes),
        "mask": ALPHA if mask_bytes is None else sha256_bytes(mask_bytes),
        "prompt": prompt,
        "settings": settings,
        "template": sha256_bytes(canonical_json(template).encode()),
    }
    return sha256_bytes(canonical_json(material).encode())
