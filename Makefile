# dlbench: the two commands a user needs.
#   make bench   install what is missing, build (Release), run the default suite
#   make test    install what is missing, build, run the test suite (ctest)
#   make data    also fetch the real data sets of quality runs (docs/data.md)
BUILD ?= build
JOBS ?= $(shell nproc)
SUITE ?= quick
# ccache and precompiled headers work together only with these sloppiness settings.
MAKEFLAGS += --no-print-directory
export CCACHE_SLOPPINESS = pch_defines,time_macros,include_file_mtime,include_file_ctime
# Each phase but the tests says how long it took (ctest's own summary closes `make test`).
TIMED = $(CURDIR)/scripts/timed.sh

.PHONY: all deps configure build build-dlbench bench test data clean format

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@$(TIMED) configure cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

# Everything, the tests included (make test).
build: configure
	@$(TIMED) "build (dlbench and its tests)" cmake --build $(BUILD) -j $(JOBS)

# Only the binary the suite runs (make bench).
build-dlbench: configure
	@$(TIMED) "build (dlbench)" cmake --build $(BUILD) -j $(JOBS) --target dlbench

bench: build-dlbench
	@$(TIMED) "suite $(SUITE)" $(BUILD)/dlbench run --suite $(SUITE)

# The real data sets of quality runs (docs/data.md), into the user's cache directory.
data: build-dlbench
	@scripts/install-deps.sh data
	$(BUILD)/dlbench data fetch

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD)
