/*-------------------------------------------------------------------------
 *
 * mysql_source.h
 *		Shared parts of the MySQL / MariaDB connector: the query helpers of
 *		mysql_source.c and the snapshot reader of mysql_snapshot.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_MYSQL_SOURCE_H
#define TRIBUTARY_MYSQL_SOURCE_H

#include "source/mysql_include.h"
#include "source/mysql_io.h"

#include "source/connector.h"

struct TributaryTable;

/* mysql_source.c */
extern MYSQL *mysrc_open(TributarySource *src, const char *appname, bool binlog, char **errp);
extern MYSQL *mysrc_conn(TributarySource *src);
extern void mysrc_raise(TributarySource *src, const char *what) pg_attribute_noreturn();
extern void mysrc_raise_saved(TributarySource *src, const char *what, unsigned int err,
							  const char *msg) pg_attribute_noreturn();
extern MYSQL_RES *mysrc_query(TributarySource *src, const char *sql);
extern char *mysrc_quote(TributarySource *src, const char *val);

/* mysql_fk.c */
extern void mysrc_fk_describe(TributarySource *src, const char *nsp, const char *rel,
							  StringInfo buf);
extern void mysrc_fk_checks(TributarySource *src, List *tables, TributaryCheckEmit emit,
							void *arg);
extern List *mysrc_referential_actions(TributarySource *src, List *tables);

/* mysql_snapshot.c */
extern void mysrc_snapshot_begin(TributarySource *src);
extern void mysrc_snapshot_end(TributarySource *src);
extern void mysrc_snapshot_join(TributarySource *src, const char *view);
extern char *mysrc_chunk_upper(TributarySource *src, struct TributaryTable *t,
							   const char *after, int64 rows);
extern void mysrc_copy_begin(TributarySource *src, struct TributaryTable *t,
							 const char *after, const char *upto, bool binary);
extern int	mysrc_copy_read(TributarySource *src, char **buf);
extern char *mysrc_bound_query(TributarySource *src, struct TributaryTable *t, const char *sql);
extern void mysrc_rows_begin(TributarySource *src, struct TributaryTable *t, const char *where);
extern const struct TributaryKeysetDialect mysrc_keyset;

/* mysql_ddl.c */
/* one action of an ALTER TABLE: its kind, and the column and new name it names */
typedef struct MyDdlAction
{
	const char *kind;
	char	   *column;
	char	   *new_name;
	bool		inert;			/* changes neither columns nor rows (TRIB_DDL_INERT) */
} MyDdlAction;

extern const char *mysrc_classify_ddl(const char *query, const char *db, List **tables,
									  List **actions);

/* mysql_position.c: binlog positions and the GTIDs that go with them */
typedef struct MyGtidSet
{
	MemoryContext cxt;
	int			n;
	int			max;
	char	  **gtids;			/* the last GTID of each domain or server */
	size_t	   *sizes;			/* their allocated sizes */
} MyGtidSet;

extern XLogRecPtr mypos_make(uint32 seq, uint32 offset);
extern bool mypos_split_file(const char *file, char **base, uint32 *seq);
extern void mypos_remember_base(const char *base);
extern char *mypos_file_name(uint32 seq);
extern void mypos_text(StringInfo buf, XLogRecPtr pos, const MyGtidSet *set);
extern const char *mypos_gtids(const char *text);
extern bool mypos_mysql_gtid_set(const char *text);
extern bool mystart_maria_gtid_list(const char *text);
extern void mygtid_set_init(MyGtidSet *set, MemoryContext cxt);
extern void mygtid_set_add(MyGtidSet *set, const char *gtid);
extern void mygtid_set_parse(MyGtidSet *set, const char *text);
extern XLogRecPtr mysrc_consistent_position(TributarySource *src);
extern XLogRecPtr mysrc_view_position(TributarySource *src);
extern char *mysrc_position_out(TributarySource *src, XLogRecPtr pos);
extern XLogRecPtr mysrc_position_in(TributarySource *src, const char *text);
extern int64 mysrc_position_bytes(TributarySource *src, XLogRecPtr from, XLogRecPtr to);
extern XLogRecPtr mysrc_current_position(TributarySource *src);
extern void mysrc_stream_fix_start(TributarySource *src, const char *slot, List *tables,
								   XLogRecPtr *start_lsn, char **snapshot);
extern void mysrc_stream_prepare(TributarySource *src, const char *slot, List *tables);

/* mysql_stream.c */
struct TributaryChangeSink;
extern void mysrc_stream_start(TributarySource *src, const char *slot, XLogRecPtr start_lsn,
							   const char *start_text, List *names, bool binary);
extern int	mysrc_stream_poll(TributarySource *src, struct TributaryChangeSink *sink, int budget);
extern pgsocket mysrc_stream_socket(TributarySource *src);
extern void mysrc_stream_close(TributarySource *src);

#endif							/* TRIBUTARY_MYSQL_SOURCE_H */
