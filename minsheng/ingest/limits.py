"""How far an uploaded file may expand, and what reading one may cost: every bound in one place.

Each limit is set well above what a real bureau's file reaches, so only a broken or hostile file
meets it; the comment says why the number is safe. The readers check these before and while
reading; the sandbox (minsheng/ingest/sandbox.py) backs them with a memory and time limit.
"""

MAX_BYTES = 50 * 1024 * 1024
# The upload itself. A city's monthly report for every village is well under 5 MB.

MAX_ROWS = 1_000_000
# Rows of one sheet. A year of monthly values for 3,000 villages and 20 indicators is 720,000.

MAX_COLUMNS = 200
# Columns of one sheet. The widest template has 9; a wide table of 10 years × 12 months is 121.

MAX_CELLS = 10_000_000
# Rows × columns held as text at once (≈ 1 GB of Python strings): what 50 MB of CSV can hold.

MAX_LINE_CHARS = 1_000_000
# One CSV line: 200 columns of 5,000 characters each. The 49 MB line of a hostile file is refused.

MAX_TEXT_BYTES = 300 * 1024 * 1024
# All cell texts of a Parquet file once decoded (dictionaries expanded), or of one .xls sheet.

MAX_ZIP_MEMBERS = 2_000
# Parts in an .xlsx. A workbook with 50 sheets, charts and images has a few hundred.

MAX_UNCOMPRESSED = 500 * 1024 * 1024
# All parts of an .xlsx unpacked. 50 MB of workbook unpacks to 250–400 MB of XML.

MAX_RATIO = 200
# Unpacked ÷ packed size of one .xlsx part over 1 MB. Sheet XML packs 5–30×, repetitive styled
# blanks up to ~100×; a zip bomb of zeros packs 1,000×.
RATIO_FLOOR = 1024 * 1024

MAX_JSON_DEPTH = 64
# Nesting of a GeoJSON file. A FeatureCollection of MultiPolygons is 8 deep; nested
# GeometryCollections a few more. Python's JSON parser would hit its recursion limit near 1,000.

MAX_COORDINATES = 3_000_000
# Vertices in one boundary file. The full-precision township boundaries of a whole province are
# under 2 million; the map keeps at most 2,000 per region anyway.

SANDBOX_MEMORY = 2 * 1024 * 1024 * 1024
# Address space of the process that parses one upload (its ~0.4 GB of libraries included).
SANDBOX_CPU_SECONDS = 300
# CPU time for parsing one upload. Measured here: a 51 MB CSV of 1,000,000 rows in 19 s, an xlsx
# of 1,000,000 cells in under 50 s on a loaded machine; a full 50 MB workbook (~5 million cells)
# takes a few minutes. Known bombs are refused by the checks above in seconds, long before this.
SANDBOX_WALL_SECONDS = 420
# Wall-clock time, including waiting for the shared machine's CPU.
SANDBOX_PARALLEL = 2
# Uploads parsed at once; more wait their turn (each may use SANDBOX_MEMORY).
