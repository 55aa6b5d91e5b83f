# Thin wrapper over meson. The two commands a newcomer needs:
#   make run   - install what is missing, build, start the demo (keeptrack + emulator)
#   make test  - install what is missing, build (plain and ASan+UBSan), run every suite,
#                then libFuzzer (build-fuzz, clang) for 10 s per harness
# Longer checks: make valgrind (unit suites under memcheck), make soak (the
# fault soak and load at full size), make fuzz, make coverage.
.PHONY: all deps build build-asan run test test-quick fuzz bench coverage valgrind soak tsan clean

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

# Only the two programs the demo runs: a test or benchmark that does not
# compile at the moment must not keep a newcomer from trying keeptrack.
run: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) src/cli/keeptrack emulator/spotify-emulator
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

# Every unit suite under valgrind memcheck (errors and definite leaks fail);
# about 5 minutes on 2 cores, so not part of `make test` (which already runs
# everything under ASan+UBSan).
valgrind: build
	@bash scripts/run-tests.sh --setup valgrind --suite unit $(BUILD)

# The fault soak and load suite at full size: 50 syncs under faults and 20
# kill -9 per back-end, a minute of 1,000 connections. `make test` runs the
# same suite CI-sized (10 syncs, 6 kills, 10 s).
soak: build
	@SOAK_SYNCS=50 SOAK_KILLS=20 SOAK_LOAD_SECONDS=60 \
	  bash scripts/run-tests.sh --suite soak --timeout-multiplier 4 $(BUILD)

# ThreadSanitizer (build-tsan): the unit, client, emulator and integration
# suites with keeptrack and the emulator built with -fsanitize=thread; the
# first race aborts the process (halt_on_error), which fails its test.
# About 10 minutes on 2 cores, so not part of `make test`.
tsan: deps
	@[ -f build-tsan/build.ninja ] || meson setup build-tsan --buildtype=debug -Db_sanitize=thread -Db_lundef=false
	ninja -C build-tsan
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" bash scripts/run-tests.sh \
	  --no-suite browser --no-suite soak --no-suite fuzz --timeout-multiplier 4 build-tsan

# Line coverage of src/ over every suite but the browser and soak ones
# (gcovr; the summary line "lines: N%" is the figure, target >= 80 %).
coverage: deps
	@[ -f build-cov/build.ninja ] || meson setup build-cov --buildtype=debug -Db_coverage=true
	ninja -C build-cov -k 0
	-@bash scripts/run-tests.sh --no-suite browser --no-suite soak build-cov
	gcovr -r . --filter src/ --exclude-unreachable-branches --print-summary build-cov

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-cov build-fuzz build-tsan
