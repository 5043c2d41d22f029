# AuditLedger. `make test` and `make bench` work on a fresh Debian machine with Swift:
# they install the C libraries (liblmdb-dev, libzstd-dev, libjemalloc-dev, libssl-dev) first when missing.

SWIFT        ?= swift
BENCH_DATA   ?= .build/bench-data-demo
BENCH_EVENTS ?= 200000
BENCH_SINGLES ?= 20000
BENCH_PROJECTION ?= 1000000
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
DOCDIR       ?= $(PREFIX)/share/doc/ledgerd
SYSCONFDIR   ?= /etc
UNITDIR      ?= /etc/systemd/system
SYSUSERSDIR  ?= /usr/lib/sysusers.d
TMPFILESDIR  ?= /usr/lib/tmpfiles.d
CONFIG       ?= release
DATA_DIR     ?= data

.PHONY: deps build test torture fuzz ui-deps ui-test workload bench bench-restart bench-e2e bench-reorg bench-delivery bench-console run install verify-unit clean

## deps: install what is missing of liblmdb-dev, libzstd-dev, libjemalloc-dev and libssl-dev (with pkg-config), rsyslog with rsyslog-openssl and
## openssl (the real syslog receiver of the delivery tests, plain and TLS, and its test certificates),
## prometheus (its promtool
## checks /metrics in a test) and, for scripts/verify_export.py and its test, python3 with the
## cryptography package.
deps:
	@missing=""; \
	{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists lmdb; } || missing="liblmdb-dev pkg-config"; \
	{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libzstd; } || missing="$$missing libzstd-dev pkg-config"; \
	{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists jemalloc; } || missing="$$missing libjemalloc-dev pkg-config"; \
	{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libcrypto; } || missing="$$missing libssl-dev pkg-config"; \
	[ -x /usr/sbin/rsyslogd ] || missing="$$missing rsyslog"; \
	ls /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1 || missing="$$missing rsyslog-openssl"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	python3 -c 'import cryptography' >/dev/null 2>&1 || missing="$$missing python3 python3-cryptography"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi; \
	python3 -c 'import cryptography' >/dev/null 2>&1 || python3 -m pip install -q cryptography

build: deps
	$(SWIFT) build

## test: the fast suite, including a few rounds of the SIGKILL crash test. Tests wait for processes,
## pipes and sockets off Swift's threads (Tests/TestSupport/OffThePool.swift). Two runs all the same:
## the tests that start ledgerd and ledgerctl (LedgerdTests) spawn hundreds of processes, and a child
## holds a copy of the test process's descriptors until it execs, a writer lock's included; a test
## that closes and reopens a log in the test process meanwhile can find it locked (AppendTests did,
## once, in a single run of the whole suite).
test: deps
	$(SWIFT) test --skip LedgerdTests
	$(SWIFT) test --skip-build --filter LedgerdTests

## torture: the long versions: 50 SIGKILL rounds of the writer (a child process) and of ledgerd
## under concurrent HTTP ingest, rebuild == live on 100k generated events, SIGKILLs of ledgerd
## while it folds a 200k-event projection.
torture: deps
	LEDGER_TORTURE=1 $(SWIFT) test --filter "CrashTests|RebuildTests|DaemonTortureTests|ProjectionKillTests"

## fuzz: hostile bodies against POST /v1/events, then schemathesis on every operation of
## openapi.yaml (FUZZ_EXAMPLES each; schemathesis goes into a virtualenv under .build).
FUZZ_EXAMPLES ?= 60
FUZZ_VENV     ?= .build/fuzz-venv
fuzz: deps
	$(SWIFT) build --product ledgerd
	@python3 -c 'import ensurepip' >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	@[ -x $(FUZZ_VENV)/bin/schemathesis ] || { python3 -m venv $(FUZZ_VENV) && $(FUZZ_VENV)/bin/pip install -q 'schemathesis>=4,<5'; }
	python3 scripts/fuzz.py --ledgerd $$($(SWIFT) build --show-bin-path)/ledgerd \
		--schemathesis $(FUZZ_VENV)/bin/schemathesis --examples $(FUZZ_EXAMPLES)

## ui-test: the web console in headless Chromium (Debian's chromium and chromium-driver, a CJK font for
## the Chinese pages; Selenium and axe-core in a virtualenv under .build): the officers' journeys by
## clicking, every page in English and Chinese screenshotted into .build/ui-artifacts and checked by
## axe, hostile values, the cookie, sessions, and an evidence bundle through scripts/verify_export.py.
UI_VENV      ?= .build/ui-venv
UI_ARTIFACTS ?= .build/ui-artifacts
ui-deps:
	@{ command -v chromium && command -v chromedriver && fc-list | grep -qi wqy; } >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver fonts-wqy-zenhei fontconfig; }
	@python3 -c 'import ensurepip' >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	@$(UI_VENV)/bin/python -c 'import selenium, axe_selenium_python, cryptography' >/dev/null 2>&1 || { python3 -m venv $(UI_VENV) && $(UI_VENV)/bin/pip install -q 'selenium>=4.20,<5' 'axe-selenium-python==2.1.6' cryptography; }

ui-test: deps ui-deps
	$(SWIFT) build --product ledgerd
	$(SWIFT) build --product ledgerctl
	$(UI_VENV)/bin/python scripts/ui_test.py --ledgerd $$($(SWIFT) build --show-bin-path)/ledgerd \
		--ledgerctl $$($(SWIFT) build --show-bin-path)/ledgerctl --artifacts $(UI_ARTIFACTS)

## workload: the generated event files of the benchmarks (ledgerctl demo: same seed, same bytes), made once.
RELEASE_BIN = $$($(SWIFT) build -c release --show-bin-path)
workload: deps
	$(SWIFT) build -c release --product ledgerctl
	@mkdir -p $(BENCH_DATA)
	@[ -s $(BENCH_DATA)/batches-$(BENCH_EVENTS).ndjson ] || $(RELEASE_BIN)/ledgerctl demo --events $(BENCH_EVENTS) --seed 7 --batch 500 > $(BENCH_DATA)/batches-$(BENCH_EVENTS).ndjson
	@[ -s $(BENCH_DATA)/singles-$(BENCH_SINGLES).ndjson ] || $(RELEASE_BIN)/ledgerctl demo --events $(BENCH_SINGLES) --seed 8 > $(BENCH_DATA)/singles-$(BENCH_SINGLES).ndjson
	@[ -s $(BENCH_DATA)/projection-$(BENCH_PROJECTION).ndjson ] || $(RELEASE_BIN)/ledgerctl demo --events $(BENCH_PROJECTION) --seed 9 --batch 500 > $(BENCH_DATA)/projection-$(BENCH_PROJECTION).ndjson

## bench: release build, the generated workload, the log next to raw LMDB in one run.
bench: workload
	$(SWIFT) build -c release --product ledger-bench
	$$($(SWIFT) build -c release --show-bin-path)/ledger-bench \
		--batches $(BENCH_DATA)/batches-$(BENCH_EVENTS).ndjson \
		--singles $(BENCH_DATA)/singles-$(BENCH_SINGLES).ndjson \
		--projection $(BENCH_DATA)/projection-$(BENCH_PROJECTION).ndjson
	$(MAKE) bench-restart

## bench-restart: the stored projection at 1M and 3M events: ledgerd's restart to READY=1, its
## RssAnon, the rebuild from the log, as-of holders and access over HTTP, a million-key body.
BENCH_RESTART_SIZES ?= 1000000,3000000
bench-restart: workload
	$(SWIFT) build -c release --product ledgerd
	$(SWIFT) build -c release --product ledger-bench
	python3 scripts/bench_restart.py --ledgerd $(RELEASE_BIN)/ledgerd --ledgerctl $(RELEASE_BIN)/ledgerctl \
		--bench $(RELEASE_BIN)/ledger-bench --data $(BENCH_DATA) --sizes $(BENCH_RESTART_SIZES)

## bench-e2e: ledgerd (release) against a throwaway PostgreSQL 15 cluster, every row of spec 8 measured
## with clients neither side wrote (wrk and pgbench; Python processes with http.client and psycopg2 for
## batches), three rounds alternating the sides, with the floors beside them (swift-nio alone, a durable
## commit, the least an LMDB ledger does, ledgerd's storage, raw LMDB) and each side's CPU an event;
## the table goes into BENCHMARKS.md.
## Uses `make workload`.
bench-e2e: workload
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }
	@python3 -c 'import psycopg2' >/dev/null 2>&1 || python3 -m pip install -q psycopg2-binary
	$(SWIFT) build -c release --product ledgerd
	$(SWIFT) build -c release --product ledger-bench
	python3 scripts/bench_e2e.py --ledgerd $(RELEASE_BIN)/ledgerd --bench $(RELEASE_BIN)/ledger-bench --data $(BENCH_DATA) --update BENCHMARKS.md

## bench-reorg: a reorganisation under load (30,000 department moves waiting for the stale-access
## check, then 10 s of single events from wrk): what each ledgerd thread writes per event.
bench-reorg:
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }
	$(SWIFT) build -c release --product ledgerd
	python3 scripts/bench_reorganisation.py --ledgerd $(RELEASE_BIN)/ledgerd

## bench-console: the web console (release) on the 1M-event workload: every page kind's time to the last
## byte (p50, p95, max over random subjects, users and moments) and its DOMContentLoaded in headless Chromium.
bench-console: workload ui-deps
	$(SWIFT) build -c release --product ledgerd
	$(SWIFT) build -c release --product ledger-bench
	$(UI_VENV)/bin/python scripts/bench_console.py --ledgerd $(RELEASE_BIN)/ledgerd --bench $(RELEASE_BIN)/ledger-bench \
		--data $(BENCH_DATA) --size $(BENCH_PROJECTION) --python $(UI_VENV)/bin/python

## bench-delivery: ledgerd (release): p99 from the 201 to the syslog receiver under a steady load, and
## ingest (wrk) with a dead sink and a stalled stream client against ingest with neither, alternated.
bench-delivery: deps
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }
	$(SWIFT) build -c release --product ledgerd
	$(SWIFT) build -c release --product ledgerctl
	python3 scripts/bench_delivery.py --ledgerd $(RELEASE_BIN)/ledgerd --ledgerctl $(RELEASE_BIN)/ledgerctl --data $(BENCH_DATA)

## run: build and start ledgerd on the embedded defaults, data in ./data (first start makes tokens).
run: deps
	$(SWIFT) build --product ledgerd
	$(SWIFT) build --product ledgerctl
	@mkdir -p $(DATA_DIR)
	@echo "ledgerd: http://127.0.0.1:8427, data in ./$(DATA_DIR)"
	@echo "tokens: ./$(DATA_DIR)/initial-tokens (one per scope, made on first start: SCOPE TOKEN)"
	@echo 'try:   LEDGER_TOKEN=$$(awk '"'"'$$1=="read"{print $$2}'"'"' $(DATA_DIR)/initial-tokens) .build/debug/ledgerctl verify'
	$$($(SWIFT) build --show-bin-path)/ledgerd --data-dir $(DATA_DIR)

## install: ledgerd, its unit, config, sysusers and tmpfiles entries (PREFIX, DESTDIR honoured).
install: deps
	$(SWIFT) build -c $(CONFIG) --product ledgerd
	$(SWIFT) build -c $(CONFIG) --product ledgerctl
	install -D -m 0755 "$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/ledgerd" "$(DESTDIR)$(BINDIR)/ledgerd"
	install -D -m 0755 "$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/ledgerctl" "$(DESTDIR)$(BINDIR)/ledgerctl"
	sed -e 's|/usr/local/bin/ledgerd|$(BINDIR)/ledgerd|' -e 's|/usr/local/share/doc/ledgerd|$(DOCDIR)|' \
		-e 's|/etc/ledgerd/|$(SYSCONFDIR)/ledgerd/|' systemd/ledgerd.service > ledgerd.service.tmp
	install -D -m 0644 ledgerd.service.tmp "$(DESTDIR)$(UNITDIR)/ledgerd.service" && rm ledgerd.service.tmp
	[ -e "$(DESTDIR)$(SYSCONFDIR)/ledgerd/ledgerd.yaml" ] || install -D -m 0640 config/ledgerd.yaml "$(DESTDIR)$(SYSCONFDIR)/ledgerd/ledgerd.yaml"
	install -D -m 0644 systemd/ledgerd.sysusers "$(DESTDIR)$(SYSUSERSDIR)/ledgerd.conf"
	install -D -m 0644 systemd/ledgerd.tmpfiles "$(DESTDIR)$(TMPFILESDIR)/ledgerd.conf"
	install -D -m 0644 README.md "$(DESTDIR)$(DOCDIR)/README.md"

## verify-unit: install under a scratch prefix (debug build), check the unit as installed, print its security score.
SCRATCH = $(CURDIR)/.build/unit-root
verify-unit:
	rm -rf $(SCRATCH)
	$(MAKE) install CONFIG=debug PREFIX=$(SCRATCH)/usr SYSCONFDIR=$(SCRATCH)/etc UNITDIR=$(SCRATCH)/units \
		SYSUSERSDIR=$(SCRATCH)/sysusers.d TMPFILESDIR=$(SCRATCH)/tmpfiles.d
	systemd-analyze verify $(SCRATCH)/units/ledgerd.service
	systemd-analyze security --offline=yes systemd/ledgerd.service | tail -1

clean:
	rm -rf .build
