/*-------------------------------------------------------------------------
 *
 * mysql_stream_int.h
 *		What the files of the MySQL binlog stream share (mysql_stream.c,
 *		mysql_tables.c, mysql_start.c, mysql_gtid.c, mysql_time.c,
 *		mysql_xa.c); include after source/mysql_source.h and
 *		<mariadb_rpl.h>.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_MYSQL_STREAM_INT_H
#define TRIBUTARY_MYSQL_STREAM_INT_H

#include "catalog.h"
#include "change.h"
#include "source/binlog.h"
#include "utils/hsearch.h"

/* what the stream knows of a job table's columns outside the binlog */
typedef struct SchemaColumn
{
	char	   *name;
	char	   *data_type;
	bool		is_unsigned;
	bool		binary;
	int			encoding;		/* PG encoding of its charset, -1 = none */
	int			nlabels;
	char	  **labels;
} SchemaColumn;

/* a job table, by "db.table" */
typedef struct StreamTable
{
	char		key[2 * 64 + 2];
	TributaryTable *t;
	Oid			relid;
	bool		lenient;		/* DDL on it was passed on: new columns are expected */
	int			nschema;		/* information_schema columns, -1 = not loaded */
	SchemaColumn *schema;
} StreamTable;

/* a TABLE_MAP of a job table */
typedef struct MapEntry
{
	uint64		table_id;
	MemoryContext cxt;
	BinlogTableMap map;
	StreamTable *table;
	int		   *encodings;
	bool		announced;
} MapEntry;

typedef struct MyStream
{
	MYSQL	   *conn;			/* the dump connection */
	MARIADB_RPL *rpl;
	MARIADB_RPL_EVENT *event;
	MemoryContext cxt;
	MemoryContext event_cxt;	/* what one event decodes to; reset after it */
	BinlogFormat fmt;
	bool		checksum;
	uint32		file_seq;
	HTAB	   *tables;			/* "db.table" -> StreamTable */
	HTAB	   *maps;			/* table id -> MapEntry */
	Oid			next_relid;
	bool		in_xact;
	XLogRecPtr	gtid_start;		/* start of the last GTID event, or 0 */
	char		gtid[80];		/* its GTID, or "" */
	char		cur_gtid[80];	/* of the open transaction */
	MyGtidSet	gtids;			/* the last GTID of each domain or server passed */
	StringInfoData pos_text;	/* a position's text, handed to the sink */
	bool		xa_holding;		/* in a prepared XA group: its events are held */
	char	   *xa_xid;			/* that group's identifier (bl_xid_text) */
	int32		xa_seq;			/* items held of it so far */
	bool		rebase_pending; /* the first ROTATE rebases the sink (mysql_start.c) */
	bool		by_gtid;		/* a MySQL dump by GTID: heartbeats tell the position */
} MyStream;

/* mysql_stream.c */
extern void mystream_error(TributarySource *src, MyStream *st, uint32 pos, const char *err)
			pg_attribute_noreturn();

extern void mystream_begin(MyStream *st, XLogRecPtr start, uint32 timestamp,
						   TributaryChangeSink *sink);
extern void mystream_commit(MyStream *st, XLogRecPtr start, XLogRecPtr end, uint32 timestamp,
							TributaryChangeSink *sink);
extern void mystream_process_event(TributarySource *src, MyStream *st, const uint8 *raw, size_t len,
								   const BinlogFormat *fmt, XLogRecPtr outer_start,
								   XLogRecPtr outer_end, TributaryChangeSink *sink, bool *advanced);

/* mysql_start.c */
extern void mystart_choose(TributarySource *src, MyStream *st, uint32 server_id, XLogRecPtr start_lsn,
						   const char *start_text, char **file, uint32 *offset, char **gtid_state,
						   bool *rebase);
extern bool mystart_is_mariadb(MyStream *st);

/* mysql_gtid.c */
extern char *mygtid_text(const MyGtidSet *set);
extern char *mygtid_mysql_pos_at(TributarySource *src, uint32 server_id, const char *file,
								 uint32 offset, bool *untold);
extern bool mygtid_mysql_same_place(const char *server_text, const MyGtidSet *state);
extern bool mygtid_mysql_partial(const MyGtidSet *state);
extern bool mygtid_dump_open(TributarySource *src, MyStream *st, uint32 server_id,
							 const char *text);

/* mysql_time.c: a non-blocking dump read event by event */
typedef struct MyScan
{
	MYSQL	   *conn;
	MARIADB_RPL *rpl;
	MARIADB_RPL_EVENT *event;
	BinlogFormat fmt;
	const char *why;			/* what the scan finds, for error messages */
	bool		missing_ok;
	bool		missing;		/* the server has no such binlog file */
} MyScan;

extern void myscan_open(TributarySource *src, MyScan *scan, const char *file, uint32 server_id,
						const char *why, bool missing_ok);
extern bool myscan_next(TributarySource *src, MyScan *scan, BinlogEvent *ev);
extern void myscan_close(MyScan *scan);
extern void mytime_find(TributarySource *src, MyStream *st, uint32 server_id, int64 when, char **file,
						uint32 *offset);

/* mysql_xa.c */
extern void mystream_xa_begin(MyStream *st, const BinlogXid *xid);
extern void mystream_xa_hold(TributarySource *src, MyStream *st, const BinlogEvent *ev,
							 const uint8 *raw, size_t len, const BinlogFormat *fmt,
							 TributaryChangeSink *sink);
extern void mystream_xa_prepare(TributarySource *src, MyStream *st, const BinlogEvent *ev,
								XLogRecPtr start, XLogRecPtr end, TributaryChangeSink *sink,
								bool *advanced);
extern bool mystream_xa_statement(TributarySource *src, MyStream *st, const char *query,
								  const BinlogEvent *ev, XLogRecPtr start, XLogRecPtr end,
								  TributaryChangeSink *sink, bool *advanced);

/* mysql_tables.c */
extern void mystream_on_table_map(TributarySource *src, MyStream *st, BinlogEvent *ev);

#endif							/* TRIBUTARY_MYSQL_STREAM_INT_H */
