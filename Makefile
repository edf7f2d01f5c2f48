# Evident: the everyday commands. Each works on a fresh machine with Go installed.

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# The tests that need PostgreSQL or Chromium skip, saying why, when those are missing;
# see README.md for how to run them.
TEST_FLAGS  ?= -count=1 -timeout=15m

.PHONY: run test lint bench build clean

## run: serve the demonstration at http://127.0.0.1:8080 and print the sign-in
run:
	$(GO) run ./cmd/evident demo

## test: run every test
test:
	$(GO) test $(TEST_FLAGS) ./...

## lint: check formatting, go vet and staticcheck
lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: run the benchmarks (figures go in BENCHMARKS.md)
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 -timeout=30m ./...

## build: build the binary into bin/evident
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/evident ./cmd/evident

clean:
	rm -rf bin
