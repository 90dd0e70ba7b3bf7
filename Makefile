# mthttpd — one Makefile. `make`, `make run`, `make test`, `make test SANITIZE=1`.
CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -pthread -MMD -MP
LDLIBS  += -lssl -lcrypto -pthread -lz -lbrotlienc

ifeq ($(SANITIZE),1)
BUILD   := build/asan
BIN     := build/asan/mthttpd
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD   := build/release
BIN     := mthttpd
endif

SRCS      := $(wildcard src/*.c)
LIB_OBJS  := $(patsubst src/%.c,$(BUILD)/%.o,$(filter-out src/main.c,$(SRCS)))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

.PHONY: all run test test-browser check-asan unit clean fuzz fuzz-long bench deps test-deps install uninstall
all: $(BIN)

LIB_DEPS := /usr/include/zlib.h:zlib1g-dev /usr/include/brotli/encode.h:libbrotli-dev

deps:
	@sh tools/deps.sh cc:gcc $(LIB_DEPS)
	@# OpenSSL 3 headers: a path, not a command, so named through a command that cannot exist
	@test -f /usr/include/openssl/ssl.h || sh tools/deps.sh no-openssl-headers:libssl-dev

test-deps:
	@sh tools/deps.sh cc:gcc $(LIB_DEPS) openssl:openssl python3:python3 groff:groff man:man-db systemd-analyze:systemd strace:strace slowhttptest:slowhttptest chromium:chromium haproxy:haproxy wrk:wrk systemd-socket-activate:systemd nginx:nginx testssl:testssl.sh

$(BIN): $(BUILD)/main.o $(BUILD)/libmthttpd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libmthttpd.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/libmthttpd.a | $(BUILD)/unit
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/libmthttpd.a $(LDLIBS)

# The compression test decodes brotli too.
$(BUILD)/unit/test_compress: LDLIBS += -lbrotlidec

$(BUILD) $(BUILD)/unit:
	mkdir -p $@

run: deps $(BIN)
	./$(BIN) --root ./resources --port 8080 --host 127.0.0.1

unit: $(UNIT_BINS)

# Every unit test program, then the integration suite against the real
# binary; the last line is "N passed, N failed".
test: test-deps $(BIN) $(UNIT_BINS)
	MTHTTPD_BIN=$(abspath $(BIN)) UNIT_DIR=$(BUILD)/unit sh tests/run.sh

# resources/upload.html in headless Chromium (Debian package chromium),
# against the real binary; the last line is "N passed, N failed".
test-browser: $(BIN)
	@sh tools/deps.sh python3:python3 chromium:chromium
	MTHTTPD_BIN=$(abspath $(BIN)) python3 tests/browser/test_upload_page.py

check-asan:
	$(MAKE) test SANITIZE=1

fuzz:
	$(MAKE) -C fuzz

# Each harness for MINUTES minutes (new inputs and crashes go to fuzz/out/).
MINUTES ?= 10
fuzz-long:
	$(MAKE) -C fuzz smoke SMOKE_SECONDS=$$(( $(MINUTES) * 60 ))

bench: $(BIN)
	bash bench/run.sh

clean:
	rm -rf build mthttpd

# Installs the binary, the man page and the systemd units, nothing else:
#   make install [PREFIX=/usr/local] [DESTDIR=staging] [SYSTEMDUNITDIR=...]
# The service's ExecStart names $(SBINDIR)/mthttpd (without DESTDIR).
PREFIX         ?= /usr/local
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL        ?= install

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/mthttpd
	$(INSTALL) -m 0644 mthttpd.8 $(DESTDIR)$(MANDIR)/man8/mthttpd.8
	sed 's|/usr/local/sbin/mthttpd|$(SBINDIR)/mthttpd|' deploy/systemd/mthttpd.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/mthttpd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/mthttpd.service
	$(INSTALL) -m 0644 deploy/systemd/mthttpd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/mthttpd.socket

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mthttpd $(DESTDIR)$(MANDIR)/man8/mthttpd.8 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/mthttpd.service $(DESTDIR)$(SYSTEMDUNITDIR)/mthttpd.socket

-include $(wildcard $(BUILD)/*.d $(BUILD)/unit/*.d)
