"""The exports a run reads, and the mapping that names their columns.

export_files.py  CSV and Parquet as text columns: paths, globs, URLs; ragged rows; census
encoding.py      an export's text encoding, transcoded to UTF-8 where needed
csv_header.py    a CSV's header record, Excel's ``sep=`` hint, its delimiter
remote_files.py  exports behind URLs (object stores, https), fetched into the scratch folder
mapping_file.py  the mapping file (TOML) read from disk
"""
