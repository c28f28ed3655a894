"""The paper's printed tables as CSV data (a package so that the CSVs ship with the wheel)."""
