# Thin wrapper over meson. The two commands a newcomer needs:
#   make run   - install what is missing, build, start the demo (keeptrack + emulator)
#   make test  - install what is missing, build (plain and ASan+UBSan), run every suite,
#                then libFuzzer (build-fuzz, clang) for 10 s per harness
.PHONY: all deps build build-asan run test test-quick fuzz bench coverage clean

BUILD      ?= build
BUILD_ASAN ?= build-asan

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)

run: build
	./$(BUILD)/src/cli/keeptrack demo

test: build build-asan
	@bash scripts/run-tests.sh --fuzz $(BUILD) $(BUILD_ASAN)

# Plain build only, no sanitizers: the fast loop while developing.
test-quick: build
	@bash scripts/run-tests.sh $(BUILD)

# Every libFuzzer harness for 120 s (scripts/fuzz.sh SECONDS for another length).
fuzz: deps
	@bash scripts/fuzz.sh 120

bench: build
	@bash scripts/install-deps.sh --bench
	@bash bench/run $(BUILD)

coverage: deps
	meson setup build-cov --buildtype=debug -Db_coverage=true 2>/dev/null || true
	ninja -C build-cov
	meson test -C build-cov --print-errorlogs || true
	gcovr -r . --filter src/ build-cov

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-cov build-fuzz
