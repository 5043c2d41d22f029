# AuditLedger. `make test` and `make bench` work on a fresh Debian machine with Swift:
# they install the C library (liblmdb-dev) first when it is missing.

SWIFT        ?= swift
WORKLOAD     ?= ../shared/workload/genevents.py
BENCH_DATA   ?= .build/bench-data
BENCH_EVENTS ?= 200000
BENCH_SINGLES ?= 20000
BENCH_PROJECTION ?= 1000000
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test torture bench clean

## deps: install liblmdb-dev (and pkg-config) when pkg-config cannot find lmdb.
deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists lmdb; then \
		echo "installing liblmdb-dev and pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq liblmdb-dev pkg-config; \
	fi

build: deps
	$(SWIFT) build

## test: the fast suite, including a few rounds of the SIGKILL crash test.
test: deps
	$(SWIFT) test

## torture: the long versions: 50 SIGKILL rounds, rebuild == live on 100k generated events.
torture: deps
	LEDGER_TORTURE=1 $(SWIFT) test --filter "CrashTests|RebuildTests"

## bench: release build, genevents.py workload, the log next to raw LMDB in one run.
bench: deps
	$(SWIFT) build -c release --product ledger-bench
	@mkdir -p $(BENCH_DATA)
	@[ -s $(BENCH_DATA)/batches-$(BENCH_EVENTS).ndjson ] || python3 $(WORKLOAD) --events $(BENCH_EVENTS) --seed 7 --batch 500 > $(BENCH_DATA)/batches-$(BENCH_EVENTS).ndjson
	@[ -s $(BENCH_DATA)/singles-$(BENCH_SINGLES).ndjson ] || python3 $(WORKLOAD) --events $(BENCH_SINGLES) --seed 8 > $(BENCH_DATA)/singles-$(BENCH_SINGLES).ndjson
	@[ -s $(BENCH_DATA)/projection-$(BENCH_PROJECTION).ndjson ] || python3 $(WORKLOAD) --events $(BENCH_PROJECTION) --seed 9 --batch 500 > $(BENCH_DATA)/projection-$(BENCH_PROJECTION).ndjson
	$$($(SWIFT) build -c release --show-bin-path)/ledger-bench \
		--batches $(BENCH_DATA)/batches-$(BENCH_EVENTS).ndjson \
		--singles $(BENCH_DATA)/singles-$(BENCH_SINGLES).ndjson \
		--projection $(BENCH_DATA)/projection-$(BENCH_PROJECTION).ndjson

clean:
	rm -rf .build
