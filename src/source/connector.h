/*-------------------------------------------------------------------------
 *
 * connector.h
 *		The function table behind which every source kind sits.
 *
 * A connector is the only code that knows how to talk to one kind of
 * source (libpq for PostgreSQL, MariaDB Connector/C for MySQL).  Callers
 * hold a TributarySource: the catalog row plus the connector's private
 * connection state.  Every connector function raises a user error carrying
 * the source's own error text; none leaves a connection open behind an
 * error it raised itself (the caller closes what it opened with
 * disconnect, which may be called twice).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_CONNECTOR_H
#define TRIBUTARY_CONNECTOR_H

#include "access/xlogdefs.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "port.h"

struct TributaryConnector;
struct TributaryTable;
struct TributaryChangeSink;

/* a source as the catalog defines it, plus its open connection */
typedef struct TributarySource
{
	const struct TributaryConnector *connector;
	int32		id;
	char	   *name;
	char	   *kind;			/* "postgresql" or "mysql" */
	char	   *conninfo;
	char	   *decoder;		/* option decoder (PostgreSQL) */
	int64		server_id;		/* option server_id (MySQL), 0 = derived */
	int			heartbeat_ms;	/* option heartbeat_interval */
	int			connect_timeout;	/* option connect_timeout, seconds */
	int			reconnect_ms;	/* option reconnect_timeout */
	bool		password_required;	/* defined by a non-superuser: see security.md */
	char	   *zero_date;		/* job option zero_date (MySQL): null, -infinity, error */
	void	   *conn;			/* connector-private connection state */
	void	   *stream;			/* connector-private change stream state */
	char	   *stream_decoder; /* the decoder of the job's slot (PostgreSQL) */
	List	   *stream_tables;	/* TributaryTable of the stream (set by stream.c) */
} TributarySource;

/* emits one row of check_source */
typedef void (*TributaryCheckEmit) (void *arg, const char *check_name, bool ok,
									const char *detail, const char *hint);

typedef struct TributaryConnector
{
	const char *kind;

	/* open a connection; returns NULL, or the source's error text */
	char	   *(*try_connect) (TributarySource *src, const char *appname);

	/* close the connection, if open */
	void		(*disconnect) (TributarySource *src);

	/*
	 * describe one table as JSON text: {"columns": [{"name", "pg_type",
	 * ...}], "key": [...], "replident": "f", "wal_level": "logical"}, or
	 * NULL when the table does not exist
	 */
	char	   *(*describe_table) (TributarySource *src, const char *nsp, const char *rel);

	/*
	 * the source's tables as a list of two-element char * arrays {schema,
	 * table}, system schemas left out (add_tables)
	 */
	List	   *(*list_tables) (TributarySource *src);

	/* the prerequisite checks of check_source, connection already made */
	void		(*run_checks) (TributarySource *src, List *tables,
							   TributaryCheckEmit emit, void *arg);

	/*
	 * Snapshot reads, between snapshot_begin and snapshot_end (which read
	 * every chunk in one consistent view of the source where it can), in
	 * primary key order.  Keys are JSON objects (text)
	 * mapping key column names to values.  chunk_upper returns the key of
	 * the rows-th row after "after" (NULL: from the first row), or NULL
	 * when fewer rows remain.  copy_begin starts streaming the copied
	 * columns of the rows after "after" up to and including "upto" (NULL:
	 * to the end) in COPY text format; copy_read returns the next block of
	 * that data and its length, or -1 at the end.
	 */
	void		(*snapshot_begin) (TributarySource *src);
	/*
	 * the name under which other connections may read in the view that
	 * snapshot_begin opened (snapshot_use), or NULL if the kind cannot share
	 * views; valid until snapshot_end
	 */
	char	   *(*snapshot_export) (TributarySource *src);
	/*
	 * the kind cannot share a view: snapshot_use opens a new view of its
	 * own, whose position each reader records as a catch-up bound
	 */
	bool		own_views;
	void		(*snapshot_end) (TributarySource *src);
	char	   *(*chunk_upper) (TributarySource *src, struct TributaryTable *t,
								const char *after, int64 rows);
	void		(*copy_begin) (TributarySource *src, struct TributaryTable *t,
							   const char *after, const char *upto, bool binary);
	/*
	 * the type OID and name (format_type) of each copied column on the
	 * source, or NULL where binary COPY is not possible; copy_begin may then
	 * stream COPY's binary format
	 */
	List	   *(*column_types) (TributarySource *src, struct TributaryTable *t);
	int			(*copy_read) (TributarySource *src, char **buf);

	/*
	 * Change capture (PostgreSQL: a logical slot; see pg_stream.c).
	 * stream_create_slot picks the decoder (src->stream_decoder), fixes the
	 * stream's start position before any snapshot read and exports a
	 * snapshot of exactly that point, usable by snapshot_use until the
	 * stream starts.  stream_prepare runs before every snapshot view (the
	 * pgoutput publication must hold every table before it is read).
	 * stream_start streams the changes of the given tables ("schema.table")
	 * committed after start_lsn.  stream_poll decodes at most budget
	 * messages (events) that arrived, calling the sink (change.h) for
	 * each, and returns how many it decoded: 0 when nothing is buffered
	 * (the caller waits on stream_socket); it never blocks.
	 * stream_feedback reports what is written and durably applied.
	 */
	void		(*stream_prepare) (TributarySource *src, const char *slot, List *tables);
	void		(*stream_create_slot) (TributarySource *src, const char *slot, List *tables,
									   XLogRecPtr *start_lsn, char **snapshot);
	void		(*snapshot_use) (TributarySource *src, const char *snapshot);
	XLogRecPtr	(*current_position) (TributarySource *src);
	void		(*stream_start) (TributarySource *src, const char *slot, XLogRecPtr start_lsn,
								 List *tables, bool binary);
	int			(*stream_poll) (TributarySource *src, struct TributaryChangeSink *sink, int budget);
	void		(*stream_feedback) (TributarySource *src, XLogRecPtr write, XLogRecPtr flush,
									bool reply_requested);
	pgsocket	(*stream_socket) (TributarySource *src);
	void		(*stream_close) (TributarySource *src);
	/* drop a slot (ending its walsender); NULL or the source's error */
	char	   *(*drop_slot) (TributarySource *src, const char *slot);

	/*
	 * positions as text and back (NULL: PostgreSQL LSNs, "16/B374D848");
	 * inside the worker every position is a 64-bit number ordered like the
	 * source's own positions
	 */
	char	   *(*position_out) (TributarySource *src, XLogRecPtr pos);
	XLogRecPtr	(*position_in) (TributarySource *src, const char *text);
	/* bytes of the source's log from one position to a later one (NULL: LSN difference) */
	int64		(*position_bytes) (TributarySource *src, XLogRecPtr from, XLogRecPtr to);
} TributaryConnector;

extern const TributaryConnector tributary_pg_connector;
extern const TributaryConnector tributary_mysql_connector;

/* catalog.c */
extern TributarySource *tributary_source_load(const char *source_name);
extern TributarySource *tributary_source_load_by_id(int32 source_id);

/* connector.c */
extern void tributary_source_connect(TributarySource *src, const char *appname);
extern void tributary_source_disconnect(TributarySource *src);
extern void tributary_password_refused(TributarySource *src) pg_attribute_noreturn();
extern XLogRecPtr tributary_parse_lsn(const char *text);
extern char *tributary_position_out(TributarySource *src, XLogRecPtr pos);
extern XLogRecPtr tributary_position_in(TributarySource *src, const char *text);
extern int64 tributary_position_bytes(TributarySource *src, XLogRecPtr from, XLogRecPtr to);

#endif							/* TRIBUTARY_CONNECTOR_H */
