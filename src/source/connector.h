/*-------------------------------------------------------------------------
 *
 * connector.h
 *		The function table behind which every source kind sits.
 *
 * A connector is the only code that knows how to talk to one kind of
 * source (libpq for PostgreSQL, MariaDB Connector/C for MySQL).  Callers
 * hold a TributarySource: the catalog configuration, what the job asks
 * of the source, and the connector's private connection and stream state.  Every connector function raises a user error carrying
 * the source's own error text; none leaves a connection open behind an
 * error it raised itself (the caller closes what it opened with
 * disconnect, which may be called twice).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_CONNECTOR_H
#define TRIBUTARY_CONNECTOR_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "port.h"

struct TributaryConnector;
struct TributaryTable;
struct TributaryChangeSink;

/*
 * TributarySourceConfig: a source as the catalog defines it (a row of
 * tributary.source with its options), read-only once loaded.
 */
typedef struct TributarySourceConfig
{
	int32		id;
	char	   *name;
	char	   *kind;			/* the connector's kind: "postgresql", "mysql", ... */
	char	   *conninfo;
	char	   *decoder;		/* option decoder (PostgreSQL) */
	int64		server_id;		/* option server_id (MySQL), 0 = derived */
	int			heartbeat_ms;	/* option heartbeat_interval */
	int			connect_timeout;	/* option connect_timeout, seconds */
	int			reconnect_ms;	/* option reconnect_timeout */
	bool		password_required;	/* defined by a non-superuser: see security.md */
} TributarySourceConfig;

/*
 * TributarySourceJob: what the job reading the source asks of it, set by
 * the job's loader, the worker and stream.c (empty outside a job).
 */
typedef struct TributarySourceJob
{
	char	   *zero_date;		/* job option zero_date (MySQL): null, -infinity, error */
	char	   *slot_decoder;	/* the decoder of the job's slot (PostgreSQL) */
	List	   *stream_tables;	/* TributaryTable of the stream */
	/*
	 * set by the connector while the stream's positions are still those of
	 * the checkpoint's numbering but will begin again where the server
	 * chooses (a dump by GTID: change.h, rebase); nothing the worker
	 * reports as applied means anything on this server until then
	 */
	bool		positions_pending;
} TributarySourceJob;

/*
 * TributarySource: what callers hold: the configuration, the job's asks,
 * and the connector's private connection and stream state.
 */
typedef struct TributarySource
{
	const struct TributaryConnector *connector;
	TributarySourceConfig cfg;
	TributarySourceJob job;
	void	   *conn;			/* connector-private connection state */
	void	   *stream;			/* connector-private change stream state */
} TributarySource;

/* emits one row of check_source */
typedef void (*TributaryCheckEmit) (void *arg, const char *check_name, bool ok,
									const char *detail, const char *hint);

/*
 * Capabilities: what a kind can do beyond the parts it fills in.
 *
 * SHARED_VIEW: another connection can read in the view a snapshot opened
 * (snapshot->export_view names it, snapshot->join enters it): snapshot
 * helpers copy in the leader's view.  OWN_VIEWS: it cannot, but a helper
 * may open a consistent view of its own (join with NULL) and record its
 * position as a catch-up bound.  Neither: one connection copies.
 * BINARY_COPY: snapshot->column_types names the source types so that
 * chunks travel in COPY's binary format where both sides agree.  SLOT: the
 * stream holds a resource on the source (a replication slot) that
 * stream->drop_slot releases when the job is dropped.  RELATION_DDL: the
 * stream reports schema changes only as new relation definitions (a
 * PostgreSQL slot), which the sink compares with what the job knows
 * (ddl.c); other kinds report DDL statements themselves.
 */
#define TRIB_CAP_SHARED_VIEW	0x01
#define TRIB_CAP_OWN_VIEWS		0x02
#define TRIB_CAP_BINARY_COPY	0x04
#define TRIB_CAP_SLOT			0x08
#define TRIB_CAP_RELATION_DDL	0x10

/*
 * Administration: every kind fills these in (list_tables may be NULL).
 */
typedef struct TributaryAdminMethods
{
	/* open the normal connection; returns NULL, or the source's error text */
	char	   *(*try_connect) (TributarySource *src, const char *appname);

	/* close it, if open (may be called twice) */
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
} TributaryAdminMethods;

/*
 * Snapshot reads, between begin (or join) and end, which read every chunk
 * in one consistent view of the source, in primary key order.  Keys are
 * JSON objects (text) mapping key column names to values.  chunk_upper
 * returns the key of the rows-th row after "after" (NULL: from the first
 * row), or NULL when fewer rows remain.  copy_begin starts streaming the
 * copied columns of the rows after "after" up to and including "upto"
 * (NULL: to the end) in COPY text format (binary: COPY's binary format);
 * copy_read returns the next block of that data and its length, or -1 at
 * the end.
 */
typedef struct TributarySnapshotMethods
{
	void		(*begin) (TributarySource *src);
	/* SHARED_VIEW: the name under which join enters the view begin opened */
	char	   *(*export_view) (TributarySource *src);
	/*
	 * read in a view: an exported one (SHARED_VIEW, or the stream start's
	 * view that stream->fix_start returned), or, with NULL, a new view of
	 * this connection's own (OWN_VIEWS)
	 */
	void		(*join) (TributarySource *src, const char *view);
	void		(*end) (TributarySource *src);
	/*
	 * may be NULL: the exact source position of the view begin opened:
	 * every transaction that ends at or before it is visible in the view
	 * (InvalidXLogRecPtr when the source does not tell)
	 */
	XLogRecPtr	(*view_position) (TributarySource *src);
	char	   *(*chunk_upper) (TributarySource *src, struct TributaryTable *t,
								const char *after, int64 rows);
	/*
	 * BINARY_COPY: the type OID and name (format_type) of each copied
	 * column on the source, NULL where binary COPY is not possible
	 */
	List	   *(*column_types) (TributarySource *src, struct TributaryTable *t);
	void		(*copy_begin) (TributarySource *src, struct TributaryTable *t,
							   const char *after, const char *upto, bool binary);
	int			(*copy_read) (TributarySource *src, char **buf);
} TributarySnapshotMethods;

/*
 * Change capture.  fix_start fixes the stream's start position before any
 * snapshot read (PostgreSQL: creates the job's slot, choosing the decoder
 * into src->job.slot_decoder) and may return the name of a view of exactly
 * that point, usable by snapshot->join until the stream starts.  prepare
 * runs before every snapshot view (pgoutput's publication must hold every
 * table before it is read).  start streams the changes of the given
 * tables ("schema.table") committed after start_lsn (start_text: that
 * position's text as a checkpoint recorded it).  poll decodes at most
 * budget messages (events) that arrived, calling the sink (change.h) for
 * each, and returns how many it decoded: 0 when nothing is buffered (the
 * caller waits on socket); it never blocks.  feedback (may be NULL)
 * reports what is written and durably applied.  referential_actions is
 * read once per stream start, on the normal connection.
 */
/*
 * A foreign key whose actions the source carries out without logging the
 * rows they change (MySQL InnoDB's CASCADE and SET NULL): on_delete and
 * on_update are 'c' (CASCADE), 'n' (SET NULL) or 'a' (no action); the
 * columns are source column names (char *), in the key's order.
 */
typedef struct TributaryRefAction
{
	char	   *name;
	char	   *child_nsp;
	char	   *child_rel;
	char	   *parent_nsp;
	char	   *parent_rel;
	List	   *child_columns;
	List	   *parent_columns;
	char		on_delete;
	char		on_update;
} TributaryRefAction;

/*
 * A leaf partition of a partitioned source table, as parts lists it: id
 * identifies the leaf and the link that makes it one (a leaf detached and
 * attached again gets a new id); created is true when the leaf was created
 * as a partition (every row it holds arrived as a logged change), false
 * when an existing table was attached (its earlier rows never were).
 */
typedef struct TributaryPart
{
	char	   *id;
	char	   *name;			/* "schema.table", for messages */
	bool		created;
} TributaryPart;

typedef struct TributaryStreamMethods
{
	void		(*fix_start) (TributarySource *src, const char *slot, List *tables,
							  XLogRecPtr *start_lsn, char **view);
	void		(*prepare) (TributarySource *src, const char *slot, List *tables);
	void		(*start) (TributarySource *src, const char *slot, XLogRecPtr start_lsn,
						  const char *start_text, List *tables, bool binary);
	int			(*poll) (TributarySource *src, struct TributaryChangeSink *sink, int budget);
	void		(*feedback) (TributarySource *src, XLogRecPtr write, XLogRecPtr flush,
							 bool reply_requested);
	pgsocket	(*socket) (TributarySource *src);
	void		(*close) (TributarySource *src);
	/* SLOT: drop a slot (ending its walsender); NULL or the source's error */
	char	   *(*drop_slot) (TributarySource *src, const char *slot);
	/*
	 * may be NULL: the foreign keys of the given job tables (TributaryTable)
	 * whose actions the source applies without logging them
	 * (TributaryRefAction), for the apply to carry out on the target
	 */
	List	   *(*referential_actions) (TributarySource *src, List *tables);
	/*
	 * may be NULL: the leaf partitions (TributaryPart, ordered by id) of a
	 * job table in the normal connection's current view (inside a snapshot:
	 * the snapshot's), *partitioned false and NIL for a table that is not
	 * partitioned (part_watch.c)
	 */
	List	   *(*parts) (TributarySource *src, struct TributaryTable *t, bool *partitioned);
	/*
	 * may be NULL: each job table's identity on the source (char *, in the
	 * tables' order; NULL for a table that does not exist), in the normal
	 * connection's current view, in one round trip: a table dropped and
	 * created again under its name gets another
	 */
	List	   *(*table_ids) (TributarySource *src, List *tables);
} TributaryStreamMethods;

/*
 * Query-based polling (job mode incremental, incremental.c): SQL kinds
 * read rows in the order of a table's ascending column and key with the
 * keyset queries of their dialect (keyset.h), in the view snapshot->begin
 * opened.  bound_query runs such a query and returns the key of its first
 * row as a JSON object (NULL: no row); rows_begin starts reading the
 * copied columns of the rows "where" (" WHERE ...") selects in COPY text
 * format, which snapshot->copy_read hands out.
 */
typedef struct TributaryPollMethods
{
	const struct TributaryKeysetDialect *keyset;
	char	   *(*bound_query) (TributarySource *src, struct TributaryTable *t, const char *sql);
	void		(*rows_begin) (TributarySource *src, struct TributaryTable *t, const char *where);
} TributaryPollMethods;

/*
 * Positions.  Inside the worker a position is a 64-bit number ordered
 * like the source's own positions; out and in convert it to and from the
 * text checkpoints store (NULL: PostgreSQL LSNs, "16/B374D848"); bytes is
 * the size of the source's log between two positions (NULL: their
 * difference); current is the source's end of log now (every transaction
 * committed by now ends before it).
 */
typedef struct TributaryPositionMethods
{
	XLogRecPtr	(*current) (TributarySource *src);
	char	   *(*out) (TributarySource *src, XLogRecPtr pos);
	XLogRecPtr	(*in) (TributarySource *src, const char *text);
	int64		(*bytes) (TributarySource *src, XLogRecPtr from, XLogRecPtr to);
} TributaryPositionMethods;

/*
 * A source kind.  A kind registers itself from its library's _PG_init
 * (tributary_register_connector); the catalog finds it by name.
 */
typedef struct TributaryConnector
{
	const char *kind;
	uint32		caps;			/* TRIB_CAP_* */
	const TributaryAdminMethods *admin;
	const TributarySnapshotMethods *snapshot;	/* NULL: no snapshots */
	const TributaryStreamMethods *stream;	/* NULL: no change capture */
	const TributaryPollMethods *poll;	/* NULL: no incremental mode */
	const TributaryPositionMethods *position;
} TributaryConnector;

extern const TributaryConnector tributary_pg_connector;
extern const TributaryConnector tributary_mysql_connector;

/* catalog.c */
extern TributarySource *tributary_source_load(const char *source_name);
extern TributarySource *tributary_source_load_by_id(int32 source_id);

/* connector.c */
extern void tributary_register_connector(const TributaryConnector *connector);
extern const TributaryConnector *tributary_find_connector(const char *kind);
extern void tributary_source_connect(TributarySource *src, const char *appname);
extern void tributary_source_disconnect(TributarySource *src);
extern void tributary_password_refused(TributarySource *src) pg_attribute_noreturn();
extern XLogRecPtr tributary_parse_lsn(const char *text);
extern char *tributary_position_out(TributarySource *src, XLogRecPtr pos);
extern XLogRecPtr tributary_position_in(TributarySource *src, const char *text);
extern XLogRecPtr tributary_current_position(TributarySource *src);
extern int64 tributary_position_bytes(TributarySource *src, XLogRecPtr from, XLogRecPtr to);
extern int	tributary_wait_socket(pgsocket sock, int io_events, TimestampTz deadline);

#endif							/* TRIBUTARY_CONNECTOR_H */
