# pg_tributary -- PGXS build
#
#   make                 build pg_tributary.so (target side) and
#                        tributary_decoder.so (source side output plugin)
#   make install         install both, the control file and the SQL script
#   make installcheck    pg_regress tests (sql/, expected/) on a temporary
#                        instance, then the TAP tests (t/*.pl)
#
# tributary_decoder.so has no libpq, MySQL or background-worker code: it is
# what gets installed on PostgreSQL sources.

EXTENSION = pg_tributary
# the extension script, assembled from the files of sql/parts in name order
DATA_built = sql/pg_tributary--0.1.sql

MODULE_big = pg_tributary
OBJS = \
	src/pg_tributary.o \
	src/shmem.o \
	src/drop_guard.o \
	src/catalog.o \
	src/conninfo.o \
	src/security.o \
	src/transform.o \
	src/check_source.o \
	src/wait.o \
	src/snapshot.o \
	src/part_watch.o \
	src/follow.o \
	src/incremental.o \
	src/apply/copy_in.o \
	src/apply/copy_transform.o \
	src/apply/transform_stream.o \
	src/apply/merge.o \
	src/apply/write_engine.o \
	src/apply/relmap.o \
	src/apply/soft_delete.o \
	src/apply/target_state.o \
	src/apply/apply.o \
	src/apply/dirty.o \
	src/apply/cascade.o \
	src/apply/find_row.o \
	src/apply/partition.o \
	src/stream.o \
	src/table_sync.o \
	src/sync_change.o \
	src/held_xact.o \
	src/decoder/proto.o \
	src/source/connector.o \
	src/source/keyset.o \
	src/source/pg_libpq.o \
	src/source/pg_source.o \
	src/source/pg_stream.o \
	src/source/pg_parts.o \
	src/source/pgoutput_read.o \
	src/source/mysql_source.o \
	src/source/mysql_io.o \
	src/source/mysql_types.o \
	src/source/mysql_value.o \
	src/source/mysql_convert.o \
	src/source/mysql_snapshot.o \
	src/source/mysql_position.o \
	src/source/mysql_stream.o \
	src/source/mysql_start.o \
	src/source/mysql_time.o \
	src/source/mysql_xa.o \
	src/source/mysql_fk.o \
	src/source/mysql_tables.o \
	src/source/mysql_ddl.o \
	src/source/binlog_event.o \
	src/source/binlog_xa.o \
	src/source/binlog_rows.o \
	src/source/binlog_formats.o \
	src/source/binlog_table_map.o \
	src/source/binlog_json.o \
	src/source/binlog_gtid.o \
	src/source/mysql_gtid.o \
	src/ddl.o \
	src/ddl_tables.o \
	bgworker/launcher.o \
	bgworker/worker.o \
	bgworker/snapshot_helper.o

# the test module: SQL renderings of the stream readers for pg_regress and
# the replay source kind, kept out of the production library
TEST_OBJS = \
	src/test/test_module.o \
	src/test/protocol_check.o \
	src/test/binlog_check.o \
	src/test/replay_source.o \
	src/test/replay_file.o \
	src/decoder/proto.o \
	src/source/binlog_render.o \
	src/source/binlog_event.o \
	src/source/binlog_xa.o \
	src/source/binlog_rows.o \
	src/source/binlog_formats.o \
	src/source/binlog_table_map.o \
	src/source/binlog_json.o \
	src/source/binlog_gtid.o \
	src/source/mysql_value.o

DECODER_OBJS = \
	src/decoder/tributary_decoder.o \
	src/decoder/decoder_rels.o \
	src/decoder/proto.o \
	src/decoder/proto_text.o

MYSQL_CFLAGS := $(shell mariadb_config --include 2>/dev/null || mysql_config --include)
MYSQL_LIBS := $(shell mariadb_config --libs 2>/dev/null || mysql_config --libs)

PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir) $(MYSQL_CFLAGS)
SHLIB_LINK_INTERNAL = $(libpq)
SHLIB_LINK = $(MYSQL_LIBS) -lzstd -lz

REGRESS = api options decoder protocol binlog
REGRESS_OPTS = --temp-instance=./tmp_check_regress --temp-config=$(srcdir)/sql/regress.conf
TAP_TESTS = 1

EXTRA_CLEAN = tributary_decoder.so $(DECODER_OBJS) tributary_test.so $(TEST_OBJS) tmp_check_regress

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

all: tributary_decoder.so tributary_test.so

SQL_PARTS = $(sort $(wildcard $(srcdir)/sql/parts/*.sql))
sql/pg_tributary--0.1.sql: $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

tributary_decoder.so: $(DECODER_OBJS)
	$(CC) $(CFLAGS) $(DECODER_OBJS) $(LDFLAGS) $(LDFLAGS_SL) -shared -o $@

tributary_test.so: $(TEST_OBJS)
	$(CC) $(CFLAGS) $(TEST_OBJS) $(LDFLAGS) $(LDFLAGS_SL) -shared -o $@ -lzstd -lz

install: install-decoder install-test

install-decoder: tributary_decoder.so
	$(INSTALL_SHLIB) tributary_decoder.so '$(DESTDIR)$(pkglibdir)/tributary_decoder.so'

install-test: tributary_test.so
	$(INSTALL_SHLIB) tributary_test.so '$(DESTDIR)$(pkglibdir)/tributary_test.so'

.PHONY: install-decoder install-test

# every object depends on the project's headers (PGXS tracks no header dependencies)
HEADERS = $(wildcard $(srcdir)/src/*.h $(srcdir)/src/*/*.h)
$(OBJS) $(DECODER_OBJS) $(TEST_OBJS): $(HEADERS)
