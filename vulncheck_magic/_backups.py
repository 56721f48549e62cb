"""Backups of whole indexes: download the zip, read its records, convert it to Parquet.

The code lives in three modules by concept: ``_backup_download`` (the pre-signed download, the
SHA-256 check and the extraction), ``_backup_records`` (the streaming record reader and
``load_backup``) and ``_backup_parquet`` (the Parquet conversion). This module re-exports
their public names.
"""

from __future__ import annotations

from ._backup_download import BackupFile, BackupIntegrityError, DownloadResult, download_backup
from ._backup_parquet import ParquetResult, backup_to_parquet
from ._backup_records import iter_backup_records, load_backup

__all__ = [
    "BackupFile",
    "BackupIntegrityError",
    "DownloadResult",
    "ParquetResult",
    "backup_to_parquet",
    "download_backup",
    "iter_backup_records",
    "load_backup",
]
