# appliance — see README.md. `make test` is what CI runs (.ci/run).
GO        ?= go
SHARED    ?= $(abspath ../shared)
PCAPS     ?= $(SHARED)/testdata/pcap
FUZZTIME  ?= 30s
BENCHCOUNT?= 6
BIN       := bin/appliance
SIPGEN    := bin/sipgen
export APPLIANCE_SHARED := $(SHARED)

.PHONY: all deps deps-apt deps-npm deps-go build test vet test-unit test-race test-pure fuzz bench demo clean

all: build

# deps installs, idempotently, everything the tests need: Debian packages
# (tshark, tcpreplay, ClickHouse, iproute2), the chdb engine from npm, Go modules.
deps: deps-apt deps-npm deps-go

deps-apt:
	@scripts/deps-apt.sh

deps-npm:
	@scripts/deps-npm.sh

deps-go:
	$(GO) mod download

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/appliance
	CGO_ENABLED=0 $(GO) build -trimpath -o $(SIPGEN) ./cmd/sipgen

vet:
	$(GO) vet ./...

test-unit:
	$(GO) test -count=1 -timeout 15m ./...

test-race:
	$(GO) test -count=1 -race -timeout 20m ./...

test-pure:
	CGO_ENABLED=0 $(GO) build ./...

test: deps vet test-pure test-unit test-race

# fuzz runs every fuzz target for FUZZTIME each.
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

bench: build
	$(GO) test -run='^$$' -bench=. -benchmem -count=$(BENCHCOUNT) ./decode/ ./sink/ ./capture/ ./bench/

demo: deps-apt build
	@BIN=$(BIN) SIPGEN=$(SIPGEN) scripts/demo.sh

clean:
	rm -rf bin .deps
