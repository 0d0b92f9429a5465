/*-------------------------------------------------------------------------
 *
 * change.h
 *		The change model every source kind delivers, and the sink it
 *		delivers it to.
 *
 * A connector's stream_poll decodes what its source sends (a PostgreSQL
 * slot's tributary_decoder or pgoutput messages, a MySQL binlog) and calls
 * the sink's functions in the source's commit order:
 *
 *	begin		a source transaction starts; start is a position at or
 *				before its first change (the stream skips transactions
 *				that start before the job's checkpoint)
 *	relation	the columns of a table before its first change, and again
 *				when they change; relid is the connector's own number for
 *				the table in this stream
 *	change		one row: op INSERT (new), UPDATE (old when the source has
 *				it, new) or DELETE (old); values in text input or binary
 *				receive format of the column's type as the relation named it
 *	truncate	tables emptied (partial: only some partitions of them, which
 *				a target of the whole table cannot follow)
 *	ddl			a statement changed a job table (kind as mysql_ddl.c
 *				classifies it, the table as "db.table", the statement;
 *				flags TRIB_DDL_INERT: it changes neither the table's
 *				columns nor its rows, as an index or a default does)
 *	commit		the transaction ends: its commit record's position, the
 *				position just after it (the checkpoint) and commit time
 *	advance		the source's position moved outside any transaction
 *				(a keepalive, a rotation, a statement about other tables);
 *				reply_requested: the source wants feedback now
 *
 * Two-phase source transactions (MySQL XA) are held on the target between
 * their prepare and their commit, in the source's own encoding of the
 * transaction, inside the same local transactions as the positions:
 *
 *	hold		inside a transaction: keep item seq (0: the prepare itself,
 *				1..n: the connector's encoded changes, in order) of the
 *				prepared transaction xid
 *	held		inside a transaction: up to max items of xid after item
 *				"after", in order, as bytea copies in the caller's memory
 *				context; *prepared tells whether xid's prepare was held
 *				(a transaction the job saw prepared; asked when after is 0)
 *	release		inside a transaction: forget what is held for xid
 *
 * Inside a source transaction that the job applied before a restart, hold
 * and release do nothing and held returns nothing (prepared true).
 *
 * commit and advance may give the text a checkpoint at their position
 * records (MySQL: the file and offset with the stream's GTIDs as of that
 * transaction); NULL means the kind's plain text of the position.
 *
 * Values point into the connector's buffers: the sink uses them during
 * the call.  Sink functions may start and end local transactions; they
 * return in the memory context they were called in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_CHANGE_H
#define TRIBUTARY_CHANGE_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* change operations */
#define TRIB_CHANGE_INSERT			'I'
#define TRIB_CHANGE_UPDATE			'U'
#define TRIB_CHANGE_DELETE			'D'

/* value kinds */
#define TRIB_VALUE_NULL				'n'
#define TRIB_VALUE_TEXT				't'
#define TRIB_VALUE_BINARY			'b'
#define TRIB_VALUE_UNCHANGED		'u'
#define TRIB_VALUE_DATUM			'd'	/* made by the apply engine's transforms only */

/* ddl flags */
#define TRIB_DDL_INERT				0x01

/* attribute flags */
#define TRIB_ATTR_KEY				0x01

typedef struct TribAttribute
{
	char	   *name;
	Oid			typoid;
	int32		typmod;
	uint8		flags;
} TribAttribute;

typedef struct TribRelation
{
	Oid			relid;
	char	   *nspname;
	char	   *relname;
	char		replident;
	int			natts;
	TribAttribute *attrs;
} TribRelation;

typedef struct TribValue
{
	char		kind;			/* TRIB_VALUE_* */
	uint32		len;
	char	   *data;			/* points into the connector's buffer */
	Datum		datum;			/* TRIB_VALUE_DATUM: the value, of the target
								 * column's type (apply/transform_stream.c) */
} TribValue;

typedef struct TribTuple
{
	int			natts;
	TribValue  *values;
} TribTuple;

typedef struct TributaryChangeSink TributaryChangeSink;

struct TributaryChangeSink
{
	void		(*begin) (TributaryChangeSink *sink, XLogRecPtr start, TimestampTz commit_ts);
	void		(*relation) (TributaryChangeSink *sink, TribRelation *rel);
	void		(*change) (TributaryChangeSink *sink, char op, Oid relid,
						   TribTuple *oldtuple, TribTuple *newtuple);
	void		(*truncate) (TributaryChangeSink *sink, int nrelids, Oid *relids, bool partial);
	/* column, new_name: what a column kind names, where known (else NULL) */
	void		(*ddl) (TributaryChangeSink *sink, const char *kind, const char *table,
						const char *statement, XLogRecPtr position, const char *column,
						const char *new_name, uint32 flags);
	void		(*commit) (TributaryChangeSink *sink, XLogRecPtr commit, XLogRecPtr end,
						   TimestampTz commit_ts, const char *end_text);
	void		(*advance) (TributaryChangeSink *sink, XLogRecPtr position, bool reply_requested,
							const char *text);
	void		(*hold) (TributaryChangeSink *sink, const char *xid, int32 seq,
						 const char *data, uint32 len);
	List	   *(*held) (TributaryChangeSink *sink, const char *xid, int32 after, int max,
						 bool *prepared);
	void		(*release) (TributaryChangeSink *sink, const char *xid);
	/*
	 * the source's positions begin again at start, outside a transaction:
	 * the stream resumed by GTID (on another server, whose binlog files
	 * are not the checkpoint's) or from a position before the job's start,
	 * and every transaction it sends from now on is one the job has not
	 * applied (the server chose them)
	 */
	void		(*rebase) (TributaryChangeSink *sink, XLogRecPtr start);
	/*
	 * set by the connector for the changes it hands to change: the source
	 * carried out no foreign key actions for them (MySQL: the rows event
	 * was logged with foreign_key_checks off)
	 */
	bool		no_ref_actions;
	/*
	 * set by the sink: the job's tables changed (a table renamed or
	 * dropped); poll returns after the current event, and the stream
	 * starts again from what is committed
	 */
	bool		stop_poll;
	void	   *arg;			/* the sink's own state */
};

#endif							/* TRIBUTARY_CHANGE_H */
