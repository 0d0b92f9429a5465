/*-------------------------------------------------------------------------
 *
 * sync_change.c
 *		The changes kept for a table copied again while its job streams
 *		(tributary.sync_change, table_sync.c): their encoding, keeping one
 *		in the local transaction of its source transaction, and applying
 *		them all in the transaction that ends the copy.
 *
 * Encoding (sc_data): integers in network order, strings counted.
 *	R	relid, schema, table, replica identity, column count, then per
 *		column: name, type OID, typmod, flags
 *	I/U/D	relid, old row image, new row image; an image is a byte 0
 *		(none) or 1, the value count and per value its kind and, for
 *		text and binary values, its bytes
 *	T	relid
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "apply/apply.h"
#include "apply/relmap.h"
#include "pg_tributary.h"
#include "security.h"
#include "table_sync.h"

/* kept changes read per query when they are applied */
#define REPLAY_BATCH		1000

/* the statement that keeps a change, planned once per process */
static SPIPlanPtr keep_plan = NULL;

/*
 * put_bytes / put_text: a counted string into an encoded change.
 */
static void
put_bytes(StringInfo buf, const char *data, uint32 len)
{
	pq_sendint32(buf, len);
	pq_sendbytes(buf, data, len);
}

static void
put_text(StringInfo buf, const char *text)
{
	put_bytes(buf, text, strlen(text));
}

/*
 * get_bytes: a counted string of an encoded change, NUL-terminated in a
 * copy of its own; *len its length.
 */
static char *
get_bytes(StringInfo buf, uint32 *len)
{
	uint32		n = pq_getmsgint(buf, 4);
	char	   *data = palloc(n + 1);

	memcpy(data, pq_getmsgbytes(buf, n), n);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

/*
 * tributary_sync_encode_relation: a relation's definition, kept before
 * the changes that use it.
 */
void
tributary_sync_encode_relation(StringInfo buf, TribRelation *rel)
{
	pq_sendint32(buf, rel->relid);
	put_text(buf, rel->nspname);
	put_text(buf, rel->relname);
	pq_sendbyte(buf, rel->replident);
	pq_sendint32(buf, rel->natts);
	for (int i = 0; i < rel->natts; i++)
	{
		put_text(buf, rel->attrs[i].name);
		pq_sendint32(buf, rel->attrs[i].typoid);
		pq_sendint32(buf, rel->attrs[i].typmod);
		pq_sendbyte(buf, rel->attrs[i].flags);
	}
}

/*
 * tributary_sync_decode_relation: the relation
 * tributary_sync_encode_relation wrote (len bytes at data).
 */
TribRelation *
tributary_sync_decode_relation(const char *data, int len)
{
	TribRelation *rel = palloc0(sizeof(TribRelation));
	StringInfoData msg;
	StringInfo	buf = &msg;

	msg.data = (char *) data;
	msg.len = msg.maxlen = len;
	msg.cursor = 0;

	rel->relid = pq_getmsgint(buf, 4);
	rel->nspname = get_bytes(buf, NULL);
	rel->relname = get_bytes(buf, NULL);
	rel->replident = pq_getmsgbyte(buf);
	rel->natts = pq_getmsgint(buf, 4);
	rel->attrs = palloc0(sizeof(TribAttribute) * Max(rel->natts, 1));
	for (int i = 0; i < rel->natts; i++)
	{
		rel->attrs[i].name = get_bytes(buf, NULL);
		rel->attrs[i].typoid = pq_getmsgint(buf, 4);
		rel->attrs[i].typmod = pq_getmsgint(buf, 4);
		rel->attrs[i].flags = pq_getmsgbyte(buf);
	}
	return rel;
}

/*
 * tributary_sync_relation_columns: the names, types and typmods of a relation's columns
 * (what a schema change alters; key flags and ids differ by message kind).
 */
void
tributary_sync_relation_columns(StringInfo buf, TribRelation *rel)
{
	resetStringInfo(buf);
	for (int i = 0; i < rel->natts; i++)
	{
		put_text(buf, rel->attrs[i].name);
		pq_sendint32(buf, rel->attrs[i].typoid);
		pq_sendint32(buf, rel->attrs[i].typmod);
	}
}

/*
 * tributary_sync_encode_tuple / decode_tuple: a row image (NULL: none),
 * value by value with its kind.
 */
void
tributary_sync_encode_tuple(StringInfo buf, TribTuple *tuple)
{
	pq_sendbyte(buf, tuple ? 1 : 0);
	if (tuple == NULL)
		return;
	pq_sendint32(buf, tuple->natts);
	for (int i = 0; i < tuple->natts; i++)
	{
		TribValue  *v = &tuple->values[i];

		pq_sendbyte(buf, v->kind);
		if (v->kind == TRIB_VALUE_TEXT || v->kind == TRIB_VALUE_BINARY)
			put_bytes(buf, v->data, v->len);
	}
}

static TribTuple *
decode_tuple(StringInfo buf)
{
	TribTuple  *tuple;

	if (pq_getmsgbyte(buf) == 0)
		return NULL;
	tuple = palloc0(sizeof(TribTuple));
	tuple->natts = pq_getmsgint(buf, 4);
	tuple->values = palloc0(sizeof(TribValue) * Max(tuple->natts, 1));
	for (int i = 0; i < tuple->natts; i++)
	{
		TribValue  *v = &tuple->values[i];

		v->kind = pq_getmsgbyte(buf);
		if (v->kind == TRIB_VALUE_TEXT || v->kind == TRIB_VALUE_BINARY)
			v->data = get_bytes(buf, &v->len);
	}
	return tuple;
}

/*
 * tributary_sync_keep: keep change number seq (of kind, encoded in data)
 * of job table jt_id, at the apply's position, in the open local
 * transaction, as the catalog's role.
 */
void
tributary_sync_keep(TributaryApplyState *apply, int32 jt_id, int64 seq, char kind, StringInfo data)
{
	bytea	   *b = palloc(VARHDRSZ + data->len);
	Datum		args[6];
	char		nulls[7] = "      ";
	TributaryUserSave us;

	SET_VARSIZE(b, VARHDRSZ + data->len);
	memcpy(VARDATA(b), data->data, data->len);
	args[0] = Int32GetDatum(jt_id);
	args[1] = Int64GetDatum(seq);
	args[2] = CharGetDatum(kind);
	/* no position before the stream's first transaction (a relation kept at once) */
	args[3] = apply->position == InvalidXLogRecPtr ? (Datum) 0 :
		CStringGetTextDatum(tributary_position_out(apply->job->source, apply->position));
	if (apply->position == InvalidXLogRecPtr)
		nulls[3] = 'n';
	args[4] = TimestampTzGetDatum(apply->commit_ts);
	args[5] = PointerGetDatum(b);
	if (apply->commit_ts == 0)
		nulls[4] = 'n';
	us = tributary_catalog_enter();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (keep_plan == NULL)
	{
		Oid			types[6] = {INT4OID, INT8OID, CHAROID, TEXTOID, TIMESTAMPTZOID, BYTEAOID};

		/* nothing for a table remove_table took out meanwhile (its worker is replaced) */
		keep_plan = SPI_prepare("INSERT INTO tributary.sync_change (sc_jt_id, sc_seq, sc_kind, sc_position, "
								"sc_commit_at, sc_data) SELECT $1, $2, $3, $4, $5, $6 "
								"WHERE EXISTS (SELECT 1 FROM tributary.job_table WHERE jt_id = $1)",
								6, types);
		if (keep_plan == NULL || SPI_keepplan(keep_plan) != 0)
			elog(ERROR, "could not prepare the statement that keeps changes");
	}
	if (SPI_execute_plan(keep_plan, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not keep a change of a table being copied");
	SPI_finish();
	PopActiveSnapshot();
	tributary_catalog_leave(us);
}

/*
 * tributary_sync_apply_kept: apply the changes kept for t, in stream
 * order, idempotently (the copy may hold the first of them), with an
 * apply state of their own (the relation ids are those of the streams
 * that kept them); live is the stream's, whose map relcache
 * invalidations reach again afterwards.  Runs in the transaction that
 * ends the copy.
 */
void
tributary_sync_apply_kept(TributaryApplyState *live, TributaryTable *t)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary kept changes",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext batch_cxt = AllocSetContextCreate(cxt, "tributary kept batch",
													ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TributaryApplyState *rs = tributary_apply_create(live->job, list_make1(t));
	int64		after = 0;

	PG_TRY();
	{
		for (;;)
		{
			Oid			argtypes[2] = {INT4OID, INT8OID};
			Datum		args[2] = {Int32GetDatum(t->id), Int64GetDatum(after)};
			TributaryUserSave us;
			int			n;
			char	   *kinds;
			char	  **positions;
			TimestampTz *commits;
			StringInfoData *data;

			MemoryContextReset(batch_cxt);
			MemoryContextSwitchTo(batch_cxt);
			us = tributary_catalog_enter();
			PushActiveSnapshot(GetTransactionSnapshot());
			SPI_connect();
			if (SPI_execute_with_args("SELECT sc_seq, sc_kind, sc_position, sc_commit_at, sc_data "
									  "FROM tributary.sync_change WHERE sc_jt_id = $1 AND sc_seq > $2 "
									  "ORDER BY sc_seq LIMIT " CppAsString2(REPLAY_BATCH),
									  2, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not read the changes kept for a copy");
			n = (int) SPI_processed;
			kinds = MemoryContextAlloc(batch_cxt, Max(n, 1));
			positions = MemoryContextAlloc(batch_cxt, sizeof(char *) * Max(n, 1));
			commits = MemoryContextAlloc(batch_cxt, sizeof(TimestampTz) * Max(n, 1));
			data = MemoryContextAlloc(batch_cxt, sizeof(StringInfoData) * Max(n, 1));
			for (int i = 0; i < n; i++)
			{
				HeapTuple	tup = SPI_tuptable->vals[i];
				TupleDesc	desc = SPI_tuptable->tupdesc;
				bool		isnull;
				Datum		d;
				bytea	   *b;

				after = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
				kinds[i] = DatumGetChar(SPI_getbinval(tup, desc, 2, &isnull));
				positions[i] = spi_text(tup, desc, 3, batch_cxt);
				d = SPI_getbinval(tup, desc, 4, &isnull);
				commits[i] = isnull ? 0 : DatumGetTimestampTz(d);
				b = DatumGetByteaPP(SPI_getbinval(tup, desc, 5, &isnull));
				data[i].len = data[i].maxlen = VARSIZE_ANY_EXHDR(b);
				data[i].data = MemoryContextAlloc(batch_cxt, data[i].len + 1);
				memcpy(data[i].data, VARDATA_ANY(b), data[i].len);
				data[i].data[data[i].len] = '\0';
				data[i].cursor = 0;
			}
			SPI_finish();
			PopActiveSnapshot();
			tributary_catalog_leave(us);
			MemoryContextSwitchTo(batch_cxt);
			if (n == 0)
				break;
			for (int i = 0; i < n; i++)
			{
				rs->idempotent = true;
				rs->position = positions[i] ? tributary_position_in(live->job->source, positions[i])
					: InvalidXLogRecPtr;
				rs->commit_ts = commits[i];
				if (kinds[i] == 'R')
					tributary_apply_relation(rs, tributary_sync_decode_relation(data[i].data, data[i].len));
				else if (kinds[i] == 'T')
				{
					Oid			relid = pq_getmsgint(&data[i], 4);

					tributary_apply_truncate(rs, 1, &relid);
				}
				else
				{
					Oid			relid = pq_getmsgint(&data[i], 4);
					TribTuple  *oldtuple = decode_tuple(&data[i]);
					TribTuple  *newtuple = decode_tuple(&data[i]);

					tributary_apply_change(rs, kinds[i], relid, oldtuple, newtuple);
				}
				MemoryContextSwitchTo(batch_cxt);
			}
		}
		tributary_apply_end_xact(rs);
		tributary_apply_flush_counters(rs);
	}
	PG_FINALLY();
	{
		/* the stream's map is the one invalidations reach again */
		tributary_relmap_init(live);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
