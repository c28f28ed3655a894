# The two commands of the README: `make book` (set up, build the smoke book, leave a working ganon)
# and `make test`.
.PHONY: setup book test
setup:
	bash scripts/setup.sh
book: setup
	.venv/bin/ganon book all --profile smoke
test: setup
	.venv/bin/python -m pytest -q
