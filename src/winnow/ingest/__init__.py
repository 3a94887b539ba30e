"""Ingestion: Segment-compatible messages and CSV/JSONL files into people, accounts and events.

`ingest_messages` / `ingest_batch` take messages as the HTTP API receives them;
`import_rows` reads a file. Both validate each message or row on its own, keep the
invalid ones (with the reason) in rejected_messages, and write through one writer.
"""

from winnow.ingest.tabular import ImportReport, import_rows
from winnow.ingest.writer import IngestResult, ingest_batch, ingest_messages

__all__ = ["ImportReport", "IngestResult", "import_rows", "ingest_batch", "ingest_messages"]
