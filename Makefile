# pgcrane - move a live PostgreSQL database to another server
#
#   make                  build ./pgcrane
#   make check            unit tests (cmocka) and integration tests (TAP, real servers)
#   make check-regression clone PostgreSQL's regression database, held against
#                         pg_dump + pg_restore --create (fetches the suite once)
#   make demo             two throwaway servers, the pagila sample, clone and verify
#   make install PREFIX=/usr/local

PREFIX ?= /usr/local
CC ?= cc
CFLAGS ?= -O2 -g
PG_BINDIR ?= /usr/lib/postgresql/15/bin
PGXS_PERL ?= /usr/lib/postgresql/15/lib/pgxs/src/test/perl
PG_REGRESS ?= /usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress

PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc $(PQ_CFLAGS) -pthread
LDLIBS = -lpq -lsqlite3 -lpthread -lm

SRCS := $(sort $(shell find src -name '*.c'))
OBJS := $(SRCS:%.c=build/%.o)
LIB_OBJS := $(filter-out build/src/main.o,$(OBJS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/tests/%)

.PHONY: all clean install check check-slow check-regression unit-check tap-check demo deps bench

all: pgcrane

pgcrane: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDLIBS)

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# A unit test links against everything, unless it tests a pure module:
# those link against only that module (and util/str), so the linker proves
# the module does no I/O and needs no connection, state or logging.  The
# state module's test links it with only logging and SQLite, which proves
# that nothing else reaches its file.
PURE_TESTS := test_pgoutput test_cdc_position test_cdc_lag test_failure \
	test_tasks test_tasks_sim test_blockrange test_state test_selection test_costmodel \
	test_cdc_deps test_cdc_compact
PURE_OBJS_test_pgoutput := build/src/cdc/pgoutput.o build/src/util/str.o
PURE_OBJS_test_cdc_position := build/src/cdc/position.o
PURE_OBJS_test_cdc_lag := build/src/cdc/lag.o build/src/util/str.o
# The keys of parallel apply: nothing but memory.
PURE_OBJS_test_cdc_deps := build/src/cdc/deps.o
# The net effect of held changes: memory and the keys' hash only.
PURE_OBJS_test_cdc_compact := build/src/cdc/compact.o build/src/cdc/deps.o build/src/util/str.o
# The failure value: no connection, no state; logging and errclass only.
PURE_OBJS_test_failure := build/src/core/failure.o build/src/util/log.o \
	build/src/core/errclass.o build/src/util/str.o
PURE_OBJS_test_costmodel := build/src/clone/costmodel.o
PURE_OBJS_test_blockrange := build/src/core/blockrange.o build/src/util/str.o
# The task engine: threads and failures, no connection.
PURE_OBJS_test_tasks := build/src/core/tasks.o $(PURE_OBJS_test_failure)
PURE_OBJS_test_tasks_sim := $(PURE_OBJS_test_tasks)
PURE_OBJS_test_state := build/src/core/state.o build/src/util/log.o build/src/util/str.o
PURE_LIBS_test_state := -lsqlite3
# The rules of a selection: strings only.
PURE_OBJS_test_selection := build/src/core/selection.o build/src/util/str.o

define pure_test_rule
build/tests/$(1): tests/unit/$(1).c $$(PURE_OBJS_$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -o $$@ $$< $$(PURE_OBJS_$(1)) $$(PURE_LIBS_$(1)) -lm -lpthread -lcmocka
endef
$(foreach t,$(PURE_TESTS),$(eval $(call pure_test_rule,$(t))))

build/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS) -lcmocka

-include $(OBJS:.o=.d)

deps:
	scripts/install-deps.sh

# Everything a fresh machine needs: dependencies, build, tests as an
# unprivileged user (initdb refuses to run as root).
check:
	scripts/check.sh

# The resume torture test (kill -9 at seeded random moments of a clone,
# then --resume): about 3.5 minutes on two cores, so not part of "check";
# CI runs it too.
check-slow:
	TESTS="tests/slow/*.pl" scripts/check.sh

# The regression database test: the suite (src/test/regress of Debian's
# postgresql-15 source package) is fetched into a cache the first time.
# Skipped, with the reason, when the suite cannot be fetched (no Debian
# source mirror reachable), as 050_cross_version.pl skips without npm.
check-regression:
	scripts/install-deps.sh
	@suite=$$(scripts/fetch-regress.sh) || { \
		echo "check-regression: skipped: PostgreSQL's regression suite could not be fetched"; \
		exit 0; }; \
	PGCRANE_REGRESS_SRC="$$suite" TESTS=tests/regress/080_regression_db.pl scripts/check.sh

unit-check: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

tap-check: pgcrane
	PATH="$(PG_BINDIR):$$PATH" PG_REGRESS="$(PG_REGRESS)" \
	PGCRANE="$(CURDIR)/pgcrane" PGCRANE_DATASETS="$(CURDIR)/data" \
	prove -I "$(PGXS_PERL)" -I tests/lib $(PROVE_FLAGS) $(or $(TESTS),tests/t/*.pl)

demo:
	scripts/demo.sh

bench: pgcrane
	bench/run.sh

install: pgcrane
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 755 pgcrane "$(DESTDIR)$(PREFIX)/bin/pgcrane"

clean:
	rm -rf build pgcrane tmp_check
