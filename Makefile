# pocket-tts: `make` builds the library and build/pocket-tts; `make test` runs every test.
# `make SAN=1 test` builds into build-san with ASan+UBSan; `make deps` installs what is missing.
CC ?= cc
SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
OPT ?= -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT ?= -O2 -g
endif
WERROR ?= -Werror
CFLAGS += -std=c17 $(OPT) -fPIC -pthread -Wall -Wextra $(WERROR) -D_GNU_SOURCE -Iinclude -Isrc -I$(BUILD)/gen
LDFLAGS += $(filter -fsanitize%,$(OPT)) -pthread
LDLIBS := -lcjson -lyaml -lunistring -lsndfile -lsoxr -lcurl -lcrypto -lmicrohttpd -lmpg123 -lm

LIB_SRC := $(sort $(wildcard src/common/*.c src/io/*.c src/text/*.c src/kernels/*.c src/model/*.c src/engine/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/configs_builtin.o
APP_SRC := $(sort $(wildcard src/cli/*.c src/server/*.c))
APP_OBJ := $(APP_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL_OBJ := $(BUILD)/obj/tests/testutil.o

DEPS_DEB := build-essential clang libclang-rt-14-dev libcjson-dev libyaml-dev libunistring-dev \
	libsndfile1-dev libsoxr-dev libcurl4-openssl-dev libmicrohttpd-dev libmpg123-dev libssl-dev python3 sox chromium

.SECONDARY:
.PHONY: all test clean deps format fuzz bench bench-kernels
all: $(BUILD)/libpockettts.a $(BUILD)/libpockettts.so $(BUILD)/pocket-tts

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/configs_builtin.c: tools/embed_configs.sh $(wildcard configs/*.yaml)
	@mkdir -p $(dir $@)
	sh tools/embed_configs.sh configs > $@

$(BUILD)/obj/gen/configs_builtin.o: $(BUILD)/gen/configs_builtin.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpockettts.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libpockettts.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/pocket-tts: $(APP_OBJ) $(BUILD)/libpockettts.a
	$(CC) $(LDFLAGS) -o $@ $(APP_OBJ) $(BUILD)/libpockettts.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_UTIL_OBJ) $(BUILD)/libpockettts.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_UTIL_OBJ) $(BUILD)/libpockettts.a $(LDLIBS)

test: all $(TEST_BIN)
	sh tests/run.sh $(BUILD)

# libFuzzer targets (clang), run briefly by .ci/run.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(BUILD)/gen/configs_builtin.c
	@mkdir -p $(dir $@)
	clang -std=c17 -O1 -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Isrc -o $@ $< $(LIB_SRC) $(BUILD)/gen/configs_builtin.c $(LDLIBS)

deps:
	@missing=$$(for p in $(DEPS_DEB); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-fuzz

include bench/Makefile.inc

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
