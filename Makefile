# ngx_http_remote_help_module
#
#   make            build build/ngx_http_remote_help_module.so
#   make run        nginx in the foreground on 127.0.0.1:8080 (docs/nginx.conf)
#   make test       the whole suite: C unit tests and prove -r t/
#   make unit       the C unit tests alone
#   make fuzz       libFuzzer on the validator (FUZZ_TIME seconds, 600)
#   make test-valgrind   the suite with every nginx under valgrind memcheck
#   make test-defer the request tests again with a test backend that
#                   answers every storage operation later (as a network
#                   backend does); "make test" runs them too
#   make bench      wrk: the module against nginx's own "return" (and the
#                   Lua peer when ../shared/peers is there); BENCH_FLAGS
#   make deb        build/libnginx-mod-http-remote-help_VERSION_ARCH.deb,
#                   built as Debian builds its nginx modules (debian/)
#
# Missing Debian packages are installed with apt-get first.

NGINX       ?= /usr/sbin/nginx
NGINX_SRC   ?= /usr/share/nginx/src
BUILD       := $(CURDIR)/build
MODULE      := $(BUILD)/ngx_http_remote_help_module.so
NGX_BUILD   := $(BUILD)/nginx

CC          ?= cc
CFLAGS_CC   := -g -O2 -fstack-protector-strong -Wformat \
               -Werror=format-security -fPIC -D_FORTIFY_SOURCE=2
LDFLAGS_LD  := -Wl,-z,relro -Wl,-z,now -fPIC

PACKAGES    := nginx nginx-dev libyajl-dev libhiredis-dev zlib1g-dev gcc make \
               libc6-dev perl curl
TEST_PACKAGES := libjson-pp-perl clang libclang-rt-14-dev openssl gdb wrk \
                 redis-server libnginx-mod-nchan nghttp2-client \
                 libfuse3-dev fuse3 pkg-config
VALGRIND_PACKAGES := valgrind
BENCH_PACKAGES := wrk curl
DEB_PACKAGES := debhelper dpkg-dev fakeroot lintian
PEER_DIR    := $(wildcard $(CURDIR)/../shared/peers/lua)
PEER_PACKAGES := libnginx-mod-http-lua lua-cjson lua-resty-core \
                 lua-resty-lrucache
BENCH_FLAGS ?= --scale 1000000 --fill

SRC         := $(wildcard src/*.c src/*.h)
PURE_SRC    := src/ngx_http_remote_help_schema.c \
               src/ngx_http_remote_help_parse.c \
               src/ngx_http_remote_help_json.c \
               src/ngx_http_remote_help_token.c \
               src/ngx_http_remote_help_query.c \
               src/ngx_http_remote_help_crc.c
UNIT_SRC    := $(wildcard t/unit/*.c)
UNIT_BIN    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))

FUZZ_BIN    := $(BUILD)/fuzz/fuzz_parse
FUZZ_TOKEN  := $(BUILD)/fuzz/fuzz_token
FUZZ_QUERY  := $(BUILD)/fuzz/fuzz_query
# a file system whose fsync() fails on demand (t/35-sync-fails.t)
FAILFS      := $(BUILD)/fuse/failfs
FUZZ_TIME   ?= 600
# the bounded pass that "make test" runs (t/20-fuzz.t)
FUZZ_TEST_TIME ?= 30

PROVE_FLAGS ?=

.PHONY: all deps test-deps js-deps run test unit fuzz test-valgrind \
        test-defer test-redis bench deb clean

all: $(MODULE)

# apt-get only what dpkg says is missing
deps:
	@missing=""; \
	for p in $(PACKAGES) $(EXTRA_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

test-deps:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(TEST_PACKAGES)"

$(NGX_BUILD)/Makefile: config
	@$(MAKE) --no-print-directory deps
	@mkdir -p $(NGX_BUILD)
	@echo "configuring against $(NGINX_SRC) (log: $(BUILD)/configure.log)"
	@cd $(NGINX_SRC) && bash -c '. ./conf_flags && ./configure \
	    --with-cc-opt="$(CFLAGS_CC)" --with-ld-opt="$(LDFLAGS_LD)" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module="$(CURDIR)" --builddir="$(NGX_BUILD)"' \
	    > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(NGX_BUILD)/Makefile $(SRC)
	@$(MAKE) --no-print-directory deps
	$(MAKE) -f $(NGX_BUILD)/Makefile -C $(NGINX_SRC) modules
	cp $(NGX_BUILD)/ngx_http_remote_help_module.so $@

# the same module with the deferring test backend (src/*_defer.c)
DEFER_BUILD := $(BUILD)/defer
DEFER_MODULE := $(DEFER_BUILD)/ngx_http_remote_help_module.so

$(DEFER_BUILD)/Makefile: config
	@$(MAKE) --no-print-directory deps
	@mkdir -p $(DEFER_BUILD)
	@cd $(NGINX_SRC) && bash -c '. ./conf_flags && ./configure \
	    --with-cc-opt="$(CFLAGS_CC) -DNGX_HTTP_RH_DEFER=1" \
	    --with-ld-opt="$(LDFLAGS_LD)" "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module="$(CURDIR)" --builddir="$(DEFER_BUILD)"' \
	    > $(BUILD)/configure-defer.log 2>&1 \
	    || { tail -20 $(BUILD)/configure-defer.log; exit 1; }

$(DEFER_MODULE): $(DEFER_BUILD)/Makefile $(SRC)
	$(MAKE) -f $(DEFER_BUILD)/Makefile -C $(NGINX_SRC) modules

$(BUILD)/unit/%: t/unit/%.c t/unit/tap.h $(PURE_SRC) $(wildcard src/*.h)
	@mkdir -p $(BUILD)/unit
	$(CC) -g -O1 -Wall -Wextra -Werror -Isrc -o $@ $< $(PURE_SRC) -lyajl

$(FAILFS): t/fuse/failfs.c
	@mkdir -p $(BUILD)/fuse
	$(CC) -g -O1 -Wall -Wextra -Wno-unused-parameter -Werror -o $@ $< \
	    $$(pkg-config --cflags --libs fuse3)

$(FUZZ_BIN): t/fuzz/fuzz_parse.c $(PURE_SRC) $(wildcard src/*.h)
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -o $@ $< \
	    $(PURE_SRC) -lyajl

$(FUZZ_TOKEN): t/fuzz/fuzz_token.c $(PURE_SRC) $(wildcard src/*.h)
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -o $@ $< \
	    $(PURE_SRC) -lyajl

$(FUZZ_QUERY): t/fuzz/fuzz_query.c $(PURE_SRC) $(wildcard src/*.h)
	@mkdir -p $(BUILD)/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -o $@ $< \
	    $(PURE_SRC) -lyajl

# the committed seeds stay as they are; what the fuzzers find goes to
# build/; the body validator, the token reader and the query options,
# FUZZ_TIME each
fuzz: $(FUZZ_BIN) $(FUZZ_TOKEN) $(FUZZ_QUERY)
	@$(MAKE) --no-print-directory test-deps
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/token $(BUILD)/fuzz/query
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus t/fuzz/corpus
	$(FUZZ_TOKEN) -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/token- $(BUILD)/fuzz/token t/fuzz/token
	$(FUZZ_QUERY) -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/query- $(BUILD)/fuzz/query t/fuzz/query

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done

run: $(MODULE)
	@mkdir -p $(BUILD)/run
	$(NGINX) -p $(CURDIR)/ -c docs/nginx.conf -e $(BUILD)/run/error.log \
	    -g 'daemon off;'

# the official Graph JS client for t/50-graph-client.t, pinned by
# t/js/package-lock.json, installed in build/js (Node from the machine,
# or Debian's nodejs and npm)
JS_DIR := $(BUILD)/js
js-deps: $(JS_DIR)/node_modules/.package-lock.json

$(JS_DIR)/node_modules/.package-lock.json: t/js/package.json t/js/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null \
	    || $(MAKE) --no-print-directory deps EXTRA_PACKAGES="nodejs npm"
	@mkdir -p $(JS_DIR)
	cp t/js/package.json t/js/package-lock.json $(JS_DIR)/
	cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error

test: $(MODULE) $(UNIT_BIN)
	@$(MAKE) --no-print-directory test-deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN) $(FUZZ_TOKEN) $(FUZZ_QUERY)
	@$(MAKE) --no-print-directory $(FAILFS)
	@$(MAKE) --no-print-directory js-deps
	@$(MAKE) --no-print-directory $(DEFER_MODULE)
	RH_MODULE=$(DEFER_MODULE) prove $(PROVE_FLAGS) $(DEFER_TESTS)
	perl t/lib/with-redis.pl prove $(PROVE_FLAGS) $(REDIS_TESTS)
	FUZZ_TEST_TIME=$(FUZZ_TEST_TIME) prove $(PROVE_FLAGS) -r t/

# what goes through the storage interface, each answer a turn later
DEFER_TESTS := t/02-reference.t t/03-crud.t t/04-list.t t/05-workers.t \
               t/10-errors.t t/11-zone-full.t t/13-keys.t t/17-query.t \
               t/18-http2.t t/30-state.t t/34-disk-full.t t/35-sync-fails.t \
               t/41-status-counts.t \
               t/51-gateway.t
test-defer: $(DEFER_MODULE)
	@$(MAKE) --no-print-directory test-deps
	RH_MODULE=$(DEFER_MODULE) prove $(PROVE_FLAGS) $(DEFER_TESTS)

# the request tests again with the zones' objects in a redis-server of
# their own (backend=, t/lib/with-redis.pl); not those of what only the
# zone does (its memory, its reloads, state=)
REDIS_TESTS := t/02-reference.t t/03-crud.t t/04-list.t t/05-workers.t \
               t/10-errors.t t/13-keys.t t/15-auth.t t/17-query.t \
               t/18-http2.t t/41-status-counts.t t/51-gateway.t
test-redis: $(MODULE)
	@$(MAKE) --no-print-directory test-deps
	perl t/lib/with-redis.pl prove $(PROVE_FLAGS) $(REDIS_TESTS)

# every nginx the tests start runs under memcheck; the logs are read by
# t/99-valgrind.t at the end
VALGRIND_LOG := $(BUILD)/valgrind
test-valgrind: $(MODULE) $(UNIT_BIN)
	@$(MAKE) --no-print-directory test-deps
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(VALGRIND_PACKAGES)"
	@rm -rf $(VALGRIND_LOG) && mkdir -p $(VALGRIND_LOG) && chmod 777 $(VALGRIND_LOG)
	RH_VALGRIND="valgrind --leak-check=full --show-leak-kinds=definite \
	    --errors-for-leak-kinds=definite --num-callers=30 \
	    --log-file=$(VALGRIND_LOG)/nginx-%p.log" \
	RH_VALGRIND_LOG=$(VALGRIND_LOG) FUZZ_TEST_TIME=0 \
	    prove $(PROVE_FLAGS) -r t/

bench: $(MODULE)
	@$(MAKE) --no-print-directory deps \
	    EXTRA_PACKAGES="$(BENCH_PACKAGES) $(if $(PEER_DIR),$(PEER_PACKAGES))"
	bench/bench.sh $(BENCH_FLAGS)

# the package: debian/ over a copy of the sources in build/deb/src
# (dpkg-buildpackage writes next to the tree it builds), then lintian
DEB_NAME    := libnginx-mod-http-remote-help
DEB_FILES   := config src docs debian README.md LICENSE Makefile
deb:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(DEB_PACKAGES)"
	@rm -rf $(BUILD)/deb $(BUILD)/$(DEB_NAME)_*.deb && mkdir -p $(BUILD)/deb/src
	cp -r $(DEB_FILES) $(BUILD)/deb/src/
	cd $(BUILD)/deb/src && dpkg-buildpackage -b -us -uc \
	    > $(BUILD)/deb/build.log 2>&1 \
	    || { tail -30 $(BUILD)/deb/build.log; exit 1; }
	@version=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
	arch=$$(dpkg --print-architecture); \
	deb=$(DEB_NAME)_$${version}_$${arch}.deb; \
	mv $(BUILD)/deb/$$deb $(BUILD)/ && echo "built $(BUILD)/$$deb" && \
	lintian --tag-display-limit 0 $(BUILD)/$$deb | tee $(BUILD)/deb/lintian.log; \
	! grep -q '^E:' $(BUILD)/deb/lintian.log

clean:
	rm -rf $(BUILD)
