# berth: build, test, demo and install.
#
# Sources are found by folder, so a new .cpp file needs no Makefile change:
# every */*.cpp outside tests/ and bench/ goes into build/berth, and every
# tests/**/*_test.cpp into build/berth_tests.

BUILD    ?= build
CXX      ?= g++
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Werror=return-type -pthread -MMD -MP -I.
LDLIBS   += -lfcgi -lcurl -lcrypt -lcrypto -lpthread -lrt

PREFIX  ?= /usr/local
DESTDIR ?=

APP_SRC  := $(filter-out cli/main.cpp,$(wildcard common/*.cpp config/*.cpp auth/*.cpp shm/*.cpp \
              docker/*.cpp lifecycle/*.cpp fcgi/*.cpp cli/*.cpp))
TEST_SRC := $(wildcard tests/*.cpp tests/*/*.cpp)
APP_OBJ  := $(APP_SRC:%.cpp=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/cli/main.o

.PHONY: all deps test unit-test image demo sweep install clean bench format

all: $(BUILD)/berth

$(BUILD)/berth: $(MAIN_OBJ) $(APP_OBJ)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/berth_tests: $(TEST_OBJ) $(APP_OBJ)
	$(CXX) $(CXXFLAGS) -o $@ $^ -lgtest -lgtest_main $(LDLIBS)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

# A test-only LD_PRELOAD library that injects faults the tests need.
$(BUILD)/libberth_faults.so: tests/support/fault_preload.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -shared -fPIC -o $@ $< -ldl

deps:
	scripts/deps.sh

image:
	scripts/build-image.sh

# Every test, unit and integration; integration tests need a running dockerd
# and fail with instructions when it is missing.
test: $(BUILD)/berth $(BUILD)/berth_tests $(BUILD)/libberth_faults.so image
	scripts/run-tests.sh $(BUILD)

unit-test: $(BUILD)/berth_tests
	$(BUILD)/berth_tests --gtest_filter='-Integration*:Docker*:System*'

demo:
	scripts/demo.sh

sweep:
	scripts/demo-sweep.sh

bench: $(BUILD)/berth image
	bench/run.sh

# Install the binary, systemd units, sysusers.d/tmpfiles.d entries, nginx
# site and example config under DESTDIR and PREFIX; scripts/install.sh lists
# every path. Starts nothing. INSTALL_BINARY names a berth built elsewhere,
# so that installing it needs no compiler.
INSTALL_BINARY ?= $(BUILD)/berth

install: $(INSTALL_BINARY)
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' scripts/install.sh '$(INSTALL_BINARY)'

format:
	clang-format -i $(APP_SRC) cli/main.cpp $(wildcard */*.hpp) $(TEST_SRC)

clean:
	rm -rf $(BUILD)

-include $(APP_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
